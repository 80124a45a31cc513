package ha

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// fault is one kind of failure a trial injects, given the volume's
// primary and another storage node, and heals again.
type fault struct {
	name string
	// nameThree, if set, is its name with three storage nodes.
	nameThree string
	// primaryLoss: the trial's pause counts as a failover.
	primaryLoss bool
	// keepsPrimary: the primary must stay primary at its epoch through
	// the fault (it loses no lease, nothing promotes).
	keepsPrimary bool
	inject       func(c *haCluster, primary, replica string) error
}

// faults are the failures of the campaign, in the order the trials run.
var faults = []fault{
	{name: "kill -9 the primary", primaryLoss: true, inject: func(c *haCluster, p, _ string) error {
		c.killFor(p, 6*time.Second)
		return nil
	}},
	{name: "freeze the primary 10 s (SIGSTOP, SIGCONT)", primaryLoss: true, inject: func(c *haCluster, p, _ string) error {
		if err := c.signal(p, syscall.SIGSTOP); err != nil {
			return err
		}
		time.Sleep(10 * time.Second)
		return c.signal(p, syscall.SIGCONT)
	}},
	{name: "cut the primary's links 8 s", primaryLoss: true, inject: func(c *haCluster, p, _ string) error {
		if err := c.tp.cut(p); err != nil {
			return err
		}
		time.Sleep(8 * time.Second)
		return c.tp.uncut(p)
	}},
	{name: "isolate the primary from etcd and its peer 8 s (initiators still reach it)",
		nameThree:   "isolate the primary from etcd and its peers 8 s (initiators still reach it)",
		primaryLoss: true, inject: func(c *haCluster, p, _ string) error {
			from := c.others(p)
			if c.witness != "" {
				from = append(from, c.witness)
			}
			if err := c.tp.isolate(p, from...); err != nil {
				return err
			}
			time.Sleep(8 * time.Second)
			return c.tp.unisolate(p, from...)
		}},
	{name: "kill -9 the replica mid-write, back after 4 s (bitmap resync)",
		nameThree:    "kill -9 a replica that does not lead etcd, mid-write, back after 4 s (bitmap resync)",
		keepsPrimary: true, inject: func(c *haCluster, p, r string) error {
			r, err := c.replicaNotLeading(p, r)
			if err != nil {
				return err
			}
			c.killFor(r, 4*time.Second)
			return nil
		}},
	{name: "kill -9 both nodes, restart both", nameThree: "kill -9 the three nodes, restart them", primaryLoss: true, inject: func(c *haCluster, p, _ string) error {
		order := append([]string{p}, c.others(p)...)
		for _, n := range order {
			c.kill(n)
		}
		time.Sleep(time.Second)
		for _, n := range order {
			c.start(n)
		}
		return nil
	}},
	{name: "planned switchover (halun cluster promote)", inject: func(c *haCluster, _, r string) error {
		return c.promote(r)
	}},
	{name: "kill -9 etcd's leader (the witness), back after 4 s", nameThree: "kill -9 etcd's leader (a replica), back after 4 s",
		keepsPrimary: true, inject: func(c *haCluster, p, _ string) error {
			// Kept off the primary's node (cluster.Node.keepLeader).
			leader, err := c.etcdLeader(p, 20*time.Second)
			if err != nil {
				return err
			}
			c.killFor(leader, 4*time.Second)
			return nil
		}},
	{name: "wipe the replica's disk (full resync)", nameThree: "wipe the disk of a replica that does not lead etcd (full resync)",
		keepsPrimary: true, inject: func(c *haCluster, p, r string) error {
			r, err := c.replicaNotLeading(p, r)
			if err != nil {
				return err
			}
			c.kill(r)
			if err := os.Remove(c.imagePath(r)); err != nil {
				return fmt.Errorf("wipe %s: %w", r, err)
			}
			time.Sleep(2 * time.Second)
			c.start(r)
			return nil
		}},
}

// replicaNotLeading is the replica a fault that spares etcd takes: r
// with two copies (the witness leads etcd); with three, whichever of the
// two replicas does not lead it (etcd's leader is kept off the primary's
// node, so it is one of them), since killing the leader costs an
// election, and that is a fault of its own.
func (c *haCluster) replicaNotLeading(primary, r string) (string, error) {
	if c.witness != "" {
		return r, nil
	}
	leader, err := c.etcdLeader(primary, 20*time.Second)
	if err != nil {
		return "", err
	}
	for _, o := range c.others(primary) {
		if o != leader {
			return o, nil
		}
	}
	return "", fmt.Errorf("no replica but etcd's leader %s", leader)
}

// title is the fault's name in a campaign with copies storage nodes.
func (f fault) title(copies int) string {
	if copies == 3 && f.nameThree != "" {
		return f.nameThree
	}
	return f.name
}
