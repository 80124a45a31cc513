#!/usr/bin/env bash
# A two-node halun cluster with a witness on one machine (127.0.0.1, .2,
# .3). halun bench writes and reads back through both nodes' portals (its
# multipath initiator follows ALUA to the primary) while the primary is
# killed with kill -9: I/O pauses until the other node promotes itself,
# then continues there, and every read still returns what was last
# acknowledged. The old primary comes back, is resynced, and the two
# images end identical. Uses examples/cluster/a.yaml and b.yaml; state
# goes to ./cluster-demo. Needs only Go.
set -euo pipefail
cd "$(dirname "$0")/.."
halun=${HALUN:-./cluster-demo/halun}
iqn=iqn.2026-12.io.halun.demo:san
mkdir -p cluster-demo
[ -x "$halun" ] || go build -o "$halun" ./cmd/halun
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# 1. Certificates: one CA, a certificate per node with the address it is
#    reached at.
rm -rf cluster-demo/pki cluster-demo/a cluster-demo/b cluster-demo/w
"$halun" cluster init --name demo --dir cluster-demo/pki a=127.0.0.1 b=127.0.0.2 --witness w=127.0.0.3
for n in a b w; do mkdir -p cluster-demo/$n && cp -r cluster-demo/pki/$n cluster-demo/$n/tls; done

# 2. The witness and both storage nodes, started together.
"$halun" witness --name w --data-dir cluster-demo/w/etcd --tls-dir cluster-demo/w/tls \
  --peer-url https://127.0.0.3:2380 --client-url https://127.0.0.3:2379 \
  --member a=https://127.0.0.1:2380 --member b=https://127.0.0.2:2380 --member w=https://127.0.0.3:2380 \
  2> cluster-demo/w.log & pids+=($!)
"$halun" serve --config examples/cluster/a.yaml 2> cluster-demo/a.log & pids+=($!); a=$!
"$halun" serve --config examples/cluster/b.yaml 2> cluster-demo/b.log & pids+=($!); b=$!
for _ in $(seq 50); do grep -q "cluster: primary" cluster-demo/a.log cluster-demo/b.log && break; sleep 0.2; done
if grep -q "cluster: primary" cluster-demo/a.log; then prim=a; other=b; pkill=$a; else prim=b; other=a; pkill=$b; fi
echo "primary: $prim"

# 3. The load, through both portals; the other node's path is standby.
#    Its progress (ops/s every second, path switches) and summary go to
#    the terminal and cluster-demo/bench.out.
"$halun" bench --portal 127.0.0.1:3260 --portal 127.0.0.2:3260 --target $iqn --duration 30s \
  > >(tee cluster-demo/bench.out) 2>&1 & pids+=($!); bench=$!
sleep 5

# 4. The primary dies. The other node promotes itself once the lease
#    expires and serves what was acknowledged; bench's ops/s drop to 0
#    meanwhile, then its I/O continues on the other path.
echo "== kill -9 $prim"
kill -9 "$pkill"; { wait "$pkill" || true; } 2>/dev/null
for _ in $(seq 100); do grep -q "cluster: primary" cluster-demo/$other.log && break; sleep 0.2; done
echo "== $other is primary"
sleep 3

# 5. The old primary comes back as a replica and is resynced, under load.
echo "== $prim restarts"
"$halun" serve --config examples/cluster/$prim.yaml 2>> cluster-demo/$prim.log & pids+=($!)
for _ in $(seq 100); do grep -q "replica back in sync" cluster-demo/$other.log && break; sleep 0.2; done
echo "== $(grep "replica back in sync" cluster-demo/$other.log | tail -1)"

# 6. The load ends; bench exits non-zero on any verification error.
rc=0; wait "$bench" || rc=$?
[ "$rc" -eq 0 ] || { echo "halun bench failed (exit $rc): see cluster-demo/bench.out" >&2; exit 1; }
echo
echo "through the kill -9 of $prim:"
grep -E '^  (failed ops|verify errors|longest pause|path switches) ' cluster-demo/bench.out
cmp cluster-demo/a/vm1.img cluster-demo/b/vm1.img && echo "a and b hold identical images"
