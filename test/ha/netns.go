package ha

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// subnet is the hosts' network; it exists only inside the namespaces the
// test makes.
const subnet = "10.99.0"

// topology is a bridge namespace and one namespace per host, each host
// with one veth link (eth0) to the bridge.
type topology struct {
	t      testing.TB
	prefix string
	ips    map[string]string // host → address
	hosts  []string
}

// nsName is the namespace of host (or "sw" for the bridge).
func (tp *topology) nsName(host string) string { return tp.prefix + host }

// ip runs `ip args...` and fails the test on error.
func (tp *topology) ip(args ...string) {
	tp.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tp.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// in runs `ip args...` inside host's namespace and returns its error.
func (tp *topology) in(host string, args ...string) error {
	a := append([]string{"netns", "exec", tp.nsName(host), "ip"}, args...)
	if out, err := exec.Command("ip", a...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns exec %s ip %s: %v: %s", tp.nsName(host), strings.Join(args, " "), err, out)
	}
	return nil
}

// newTopology builds the namespaces for hosts (name → last octet) and
// removes them when the test ends.
func newTopology(t testing.TB, hosts map[string]int) *topology {
	t.Helper()
	removeStale()
	tp := &topology{t: t, prefix: fmt.Sprintf("halunha-%d-%04x-", os.Getpid(), rand.IntN(1<<16)), ips: map[string]string{}}
	t.Cleanup(tp.close)
	sw := tp.nsName("sw")
	tp.ip("netns", "add", sw)
	tp.ip("-n", sw, "link", "set", "lo", "up")
	tp.ip("-n", sw, "link", "add", "br0", "type", "bridge")
	tp.ip("-n", sw, "link", "set", "br0", "up")
	for h, octet := range hosts {
		ns := tp.nsName(h)
		tp.hosts = append(tp.hosts, h)
		tp.ips[h] = fmt.Sprintf("%s.%d", subnet, octet)
		tp.ip("netns", "add", ns)
		tp.ip("-n", ns, "link", "set", "lo", "up")
		// The pair is made in the bridge's namespace and one end moved:
		// nothing is ever created in the test's own namespace.
		tp.ip("-n", sw, "link", "add", "p-"+h, "type", "veth", "peer", "name", "eth0", "netns", ns)
		tp.ip("-n", sw, "link", "set", "p-"+h, "master", "br0", "up")
		tp.ip("-n", ns, "addr", "add", tp.ips[h]+"/24", "dev", "eth0")
		tp.ip("-n", ns, "link", "set", "eth0", "up")
	}
	return tp
}

// close deletes every namespace of the topology.
func (tp *topology) close() {
	for _, h := range append([]string{"sw"}, tp.hosts...) {
		exec.Command("ip", "netns", "del", tp.nsName(h)).Run()
	}
}

// removeStale deletes namespaces an earlier run left behind when it was
// killed: those whose test process (named in them) is gone. A campaign
// running at the same time keeps its own.
func removeStale() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "halunha-") {
			continue
		}
		owner, _, _ := strings.Cut(strings.TrimPrefix(f[0], "halunha-"), "-")
		if pid, err := strconv.Atoi(owner); err == nil && syscall.Kill(pid, 0) == nil {
			continue
		}
		exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

// command runs name args... inside host's namespace.
func (tp *topology) command(host, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", tp.nsName(host), name}, args...)...)
}

// cut takes host's link down: every peer and initiator loses it.
func (tp *topology) cut(host string) error { return tp.in(host, "link", "set", "eth0", "down") }

// uncut brings host's link back.
func (tp *topology) uncut(host string) error { return tp.in(host, "link", "set", "eth0", "up") }

// isolate drops host's traffic to the peers named (blackhole routes in
// its namespace: their packets still arrive, no answer leaves), while
// every other host still reaches it.
func (tp *topology) isolate(host string, from ...string) error {
	for _, f := range from {
		if err := tp.in(host, "route", "add", "blackhole", tp.ips[f]+"/32"); err != nil {
			return err
		}
	}
	return nil
}

// unisolate removes isolate's routes.
func (tp *topology) unisolate(host string, from ...string) error {
	var first error
	for _, f := range from {
		if err := tp.in(host, "route", "del", "blackhole", tp.ips[f]+"/32"); err != nil && first == nil {
			first = err
		}
	}
	return first
}
