#!/usr/bin/env bash
# A two-node halun cluster with a witness on one machine (127.0.0.1, .2,
# .3), a write through the primary, a kill -9 of the primary, the data
# read back through the other node, and the old primary rejoining and
# resynced. Uses examples/cluster/a.yaml and b.yaml; state goes to
# ./cluster-demo. Needs qemu-io (qemu-utils, qemu-block-extra).
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
ip() { [ "$1" = a ] && echo 127.0.0.1 || echo 127.0.0.2; }
echo "primary: $prim"

# 3. Write through the primary; the other node's path is standby.
qemu-io -f raw -c "write -P 0xab 0 1M" -c flush "iscsi://$(ip $prim):3260/$iqn/0"

# 4. The primary dies. The other node promotes itself once the lease
#    expires and serves what was acknowledged.
kill -9 "$pkill"
for _ in $(seq 100); do grep -q "cluster: primary" cluster-demo/$other.log && break; sleep 0.2; done
qemu-io -f raw -c "read -P 0xab 0 1M" -c "write -P 0xcd 1M 1M" "iscsi://$(ip $other):3260/$iqn/0"

# 5. The old primary comes back as a replica and is resynced.
"$halun" serve --config examples/cluster/$prim.yaml 2>> cluster-demo/$prim.log & pids+=($!)
for _ in $(seq 100); do grep -q "replica back in sync" cluster-demo/$other.log && break; sleep 0.2; done
grep "replica back in sync" cluster-demo/$other.log | tail -1
cmp cluster-demo/a/vm1.img cluster-demo/b/vm1.img && echo "a and b hold identical images"
