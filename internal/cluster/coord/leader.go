package coord

import (
	"context"
	"fmt"
)

// LeaderTo moves etcd's leadership to the member named to, if the member
// serving endpoint (this client's own) leads now; it reports whether it
// moved it. A storage node hands the leadership to the witness this way:
// a storage node that dies then never takes the leader with it, and its
// lease expires one TTL after its last renewal instead of after an
// election too (a new leader restarts every lease's TTL).
func (c *Client) LeaderTo(ctx context.Context, endpoint, to string) (bool, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	st, err := c.etcd.Status(ctx, endpoint)
	if err != nil {
		return false, fmt.Errorf("coord: status of %s: %w", endpoint, err)
	}
	if st.Leader == 0 || st.Leader != st.Header.MemberId {
		return false, nil
	}
	ms, err := c.etcd.MemberList(ctx)
	if err != nil {
		return false, fmt.Errorf("coord: member list: %w", err)
	}
	for _, m := range ms.Members {
		if m.Name != to {
			continue
		}
		if m.ID == st.Leader {
			return false, nil
		}
		if _, err := c.etcd.MoveLeader(ctx, m.ID); err != nil {
			return false, fmt.Errorf("coord: move the leadership to %s: %w", to, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("coord: no etcd member named %s", to)
}

// LeaderName returns the name of the etcd member that leads now, asking
// the members at endpoints at once, each for at most a second (a dead
// member's endpoint does not answer at all): the first answer counts.
// "" if none answers or none leads.
func (c *Client) LeaderName(ctx context.Context, endpoints []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, memberProbeTimeout)
	defer cancel()
	type answer struct {
		leader uint64
		err    error
	}
	answers := make(chan answer, len(endpoints))
	for _, ep := range endpoints {
		go func() {
			st, err := c.etcd.Status(ctx, ep)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{leader: st.Leader}
		}()
	}
	var last error
	for range endpoints {
		a := <-answers
		if a.err != nil {
			last = a.err
			continue
		}
		if a.leader == 0 {
			return "", nil
		}
		ms, err := c.etcd.MemberList(ctx)
		if err != nil {
			return "", fmt.Errorf("coord: member list: %w", err)
		}
		for _, m := range ms.Members {
			if m.ID == a.leader {
				return m.Name, nil
			}
		}
		return "", nil
	}
	if last != nil {
		return "", fmt.Errorf("coord: status: %w", last)
	}
	return "", nil
}
