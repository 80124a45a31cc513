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
// the members at endpoints in turn; "" if none answers or none leads.
func (c *Client) LeaderName(ctx context.Context, endpoints []string) (string, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	var last error
	for _, ep := range endpoints {
		st, err := c.etcd.Status(ctx, ep)
		if err != nil {
			last = err
			continue
		}
		if st.Leader == 0 {
			return "", nil
		}
		ms, err := c.etcd.MemberList(ctx)
		if err != nil {
			return "", fmt.Errorf("coord: member list: %w", err)
		}
		for _, m := range ms.Members {
			if m.ID == st.Leader {
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
