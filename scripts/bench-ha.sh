#!/usr/bin/env bash
# Benchmarks replicated halun against unreplicated halun on this machine,
# side by side in one run, then measures resync (issue 10).
#
# (a) one unreplicated halun serving a 1 GiB file volume on /dev/shm
#     (127.0.0.10:3292);
# (b) a two-node cluster with a witness (nodes a and b on 127.0.0.11 and
#     127.0.0.12, witness w on 127.0.0.13; iSCSI 3292, replication 7010,
#     etcd 2381/2382) serving a replicated volume of the same size, each
#     node its own image on /dev/shm.
# All volumes have 512-byte blocks, thin: false, and start with the same
# random data. Each workload runs on (a) and (b) alternately (A B A B ...)
# for ROUNDS rounds, the replicated runs through the primary's portal; the
# medians, the ratios replicated/unreplicated and the CPU seconds per GiB
# of every halun process (unreplicated; primary, replica and witness) are
# printed. Then:
#   - full resync: the primary is killed (-9), the other node takes over,
#     the old primary's copy is discarded (halun cluster discard) and the
#     node restarted: it is resynced in full onto its image. Its rate is
#     compared with loopback TCP measured by iperf3 (one stream, no TLS)
#     in the same run. Then once more onto a new, empty image (the
#     replica's image deleted), beside dd's rate into a new file.
#   - bitmap resync: the replica is killed, writes go to the primary while
#     it is away (random 4 KiB writes, then 1 MiB sequential writes, one
#     outage each), it is restarted, and the bytes the primary's resync
#     copied are compared with the bytes written.
# Results also go to OUT (default docs/bench/ha.md).
#
#   scripts/bench-ha.sh                 # ROUNDS=3 DURATION=10
#   ROUNDS=5 DURATION=20 scripts/bench-ha.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
OUT=${OUT:-docs/bench/ha.md}
SOLO=127.0.0.10
A=127.0.0.11
B=127.0.0.12
W=127.0.0.13
ISCSI_PORT=${ISCSI_PORT:-3292}
REPL_PORT=${REPL_PORT:-7010}
ETCD_CLIENT=${ETCD_CLIENT:-2381}
ETCD_PEER=${ETCD_PEER:-2382}
IPERF_PORT=${IPERF_PORT:-5298}
RAND_WRITES=${RAND_WRITES:-2048}   # 4 KiB writes during the first outage
SEQ_WRITES=${SEQ_WRITES:-64}       # 1 MiB writes during the second outage
IQN=iqn.2026-12.io.halun:bench-ha

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v iscsi-inq >/dev/null || need+=(libiscsi-bin)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d /dev/shm/halun-bench-ha.XXXXXX)
declare -A PID=()
cleanup() {
  local p
  for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log() { echo "$(date -u +%T) $*" >&2; }
die() { log "error: $*"; for f in "$work"/*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done; exit 1; }

rev=$(git describe --always --dirty 2>/dev/null || echo "?")  # before the report file changes
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "building halun"
go build -o "$work/halun" ./cmd/halun
halun=$work/halun

log "prefilling three 1 GiB volumes on /dev/shm"
mkdir -p "$work/solo" "$work/a" "$work/b" "$work/w"
head -c 1G /dev/urandom > "$work/solo/vol.img"
cp "$work/solo/vol.img" "$work/a/vol.img"
cp "$work/solo/vol.img" "$work/b/vol.img"

"$halun" cluster init --name bench --dir "$work/pki" a=$A b=$B --witness w=$W >/dev/null
for n in a b w; do cp -r "$work/pki/$n" "$work/$n/tls"; done

cat > "$work/solo.yaml" <<YAML
node: { name: solo, data_dir: $work/solo }
portal_groups:
  - { tag: 1, portals: ["$SOLO:$ISCSI_PORT"] }
volumes:
  - { name: vol, backend: file, path: $work/solo/vol.img, size: 1GiB, block_size: 512, serial: benchha0001, thin: false }
targets:
  - iqn: $IQN
    luns: [{ lun: 0, volume: vol }]
    access: { all: true }
YAML
for n in a b; do
  ip=$A tag=1; [ $n = b ] && ip=$B tag=2
  cat > "$work/$n.yaml" <<YAML
node: { name: $n, data_dir: $work/$n }
portal_groups:
  - { tag: $tag, portals: ["$ip:$ISCSI_PORT"] }
volumes:
  - { name: vol, backend: file, path: $work/$n/vol.img, size: 1GiB, block_size: 512, serial: benchha0002, thin: false }
targets:
  - iqn: $IQN
    luns: [{ lun: 0, volume: vol }]
    access: { all: true }
cluster:
  name: bench
  node: $n
  nodes:
    - { name: a, portal_groups: [1], replication: "$A:$REPL_PORT", etcd_peer: "$A:$ETCD_PEER", etcd_client: "$A:$ETCD_CLIENT" }
    - { name: b, portal_groups: [2], replication: "$B:$REPL_PORT", etcd_peer: "$B:$ETCD_PEER", etcd_client: "$B:$ETCD_CLIENT" }
  witness: { name: w, etcd_peer: "$W:$ETCD_PEER", etcd_client: "$W:$ETCD_CLIENT" }
YAML
done

addr() { case $1 in a) echo $A;; b) echo $B;; esac; }
other() { [ "$1" = a ] && echo b || echo a; }
start_node() {
  "$halun" serve --config "$work/$1.yaml" 2>>"$work/$1.log" &
  PID[$1]=$!
}

log "starting the unreplicated halun, the witness and nodes a and b"
"$halun" serve --config "$work/solo.yaml" --log-level warn 2>"$work/solo.log" &
PID[solo]=$!
"$halun" witness --name w --data-dir "$work/w/etcd" --tls-dir "$work/w/tls" \
  --peer-url "https://$W:$ETCD_PEER" --client-url "https://$W:$ETCD_CLIENT" \
  --member "a=https://$A:$ETCD_PEER" --member "b=https://$B:$ETCD_PEER" --member "w=https://$W:$ETCD_PEER" \
  2>"$work/w.log" &
PID[w]=$!
start_node a
start_node b

# status prints the volume's record as JSON, asked through any live node.
status() {
  local n
  for n in a b; do
    if "$halun" cluster status --config "$work/$n.yaml" --json 2>/dev/null | jq -c '.volumes[] | select(.name == "vol")' 2>/dev/null; then
      return 0
    fi
  done
  echo '{}'
}
# wait_for JQ_EXPR SECONDS: until the volume's record satisfies JQ_EXPR.
wait_for() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if [ "$(status | jq -r "$1" 2>/dev/null)" = true ]; then return 0; fi
    sleep 0.2
  done
  return 1
}
IN_SYNC='(.primary // "") != "" and ((.in_sync // []) | length) == 2 and ((.out_of_sync // []) | length) == 0'

wait_for "$IN_SYNC" 120 || die "the replicated volume has no primary with both replicas in sync after 120 s"
primary=$(status | jq -r .primary)
replica=$(other "$primary")
log "primary: $primary, replica: $replica, both in sync"
for _ in $(seq 50); do
  iscsi-inq "iscsi://$SOLO:$ISCSI_PORT/$IQN/0" >/dev/null 2>&1 && break
  sleep 0.2
done

URL_solo="iscsi://$SOLO:$ISCSI_PORT/$IQN/0"
URL_ha="iscsi://$(addr "$primary"):$ISCSI_PORT/$IQN/0"

# shellcheck source=scripts/lib/measure.sh
. scripts/lib/measure.sh  # the working directory is the repository's root

# Counts per run: the same work for both; sized for about DURATION seconds
# unreplicated on this machine.
count_w4k=$((DURATION*10000))
count_lat4k=$((DURATION*5000))
count_seqw1m=$((DURATION*300))

# run_one WORKLOAD TARGET -> prints "value GiB_moved client_cpu cpu(proc)..."
# with the CPU seconds of the target's processes (solo; or primary,
# replica, witness).
run_one() {
  local w=$1 t=$2 url procs p out secs val count size
  if [ "$t" = solo ]; then url=$URL_solo; procs=(solo); else url=$URL_ha; procs=("$primary" "$replica" w); fi
  declare -A before=()
  for p in "${procs[@]}"; do before[$p]=$(ticks "${PID[$p]}"); done
  echo 0 > "$work/client-cpu"
  case $w in
    w4k)    count=$count_w4k; size=4096
            out=$(client timeout $((DURATION*10+60)) qemu-img bench -w -d 32 -s 4k -c "$count" -f raw "$url" 2>&1) ;;
    lat4k)  count=$count_lat4k; size=4096
            out=$(client timeout $((DURATION*10+60)) qemu-img bench -w -d 1 -s 4k -c "$count" -f raw "$url" 2>&1) ;;
    seqw1m) count=$count_seqw1m; size=1048576
            out=$(client timeout $((DURATION*10+60)) qemu-img bench -w -d 8 -s 1M -c "$count" -f raw "$url" 2>&1) ;;
  esac
  secs=$(echo "$out" | grep -o 'completed in [0-9.]*' | awk '{print $3}')
  [ -n "$secs" ] || die "$w on $t: qemu-img bench failed: $out"
  case $w in
    w4k)    val=$(awk -v c="$count" -v s="$secs" 'BEGIN{ printf "%.0f", c/s }') ;;            # IOPS
    lat4k)  val=$(awk -v c="$count" -v s="$secs" 'BEGIN{ printf "%.1f", s*1e6/c }') ;;         # µs per I/O
    seqw1m) val=$(awk -v c="$count" -v s="$secs" 'BEGIN{ printf "%.0f", c/s }') ;;             # MiB/s
  esac
  local line
  line="$val $(awk -v c="$count" -v z="$size" 'BEGIN{ printf "%.4f", c*z/1073741824 }') $(cat "$work/client-cpu")"
  for p in "${procs[@]}"; do
    line+=" $(awk -v a="$(ticks "${PID[$p]}")" -v b="${before[$p]}" -v h="$hz" 'BEGIN{ printf "%.2f", (a-b)/h }')"
  done
  echo "$line"
}

perg() { awk -v c="$1" -v g="$2" 'BEGIN{ if (g>0) printf "%.1f", c/g; else print 0 }'; }
median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }

declare -A vals=() cpu=()
workloads=(w4k lat4k seqw1m)
for r in $(seq "$ROUNDS"); do
  for w in "${workloads[@]}"; do
    for t in solo ha; do
      read -r v gib cc c1 c2 c3 < <(run_one "$w" "$t")
      vals[$w,$t]+="$v "
      cpu[$w,$t,client]+="$(perg "$cc" "$gib") "
      if [ "$t" = solo ]; then
        cpu[$w,$t,solo]+="$(perg "$c1" "$gib") "
        log "round $r $w $t: $v (halun ${c1}s, client ${cc}s CPU)"
      else
        cpu[$w,$t,primary]+="$(perg "$c1" "$gib") "
        cpu[$w,$t,replica]+="$(perg "$c2" "$gib") "
        cpu[$w,$t,witness]+="$(perg "$c3" "$gib") "
        log "round $r $w $t: $v (primary ${c1}s, replica ${c2}s, witness ${c3}s, client ${cc}s CPU)"
      fi
    done
  done
done

rss() { awk '/VmHWM/{print int($2/1024)}' "/proc/$1/status"; }
rss_solo=$(rss "${PID[solo]}"); rss_p=$(rss "${PID[$primary]}"); rss_r=$(rss "${PID[$replica]}")

# The unreplicated halun is not needed any more: its cores go to the resync.
kill "${PID[solo]}"; wait "${PID[solo]}" 2>/dev/null || true; unset 'PID[solo]'

# last_resync NODE: "copied took mib_per_sec" of the last resync NODE's log
# reports done.
last_resync() {
  grep 'msg="cluster: resync done"' "$work/$1.log" | tail -1 |
    sed -E 's/.* copied=([0-9]+) took=([^ ]+) mib_per_sec=([0-9.]+).*/\1 \2 \3/'
}
resyncs_done() { grep -c 'msg="cluster: resync done"' "$work/$1.log" || true; }
same_images() { cmp -s "$work/a/vol.img" "$work/b/vol.img" && echo identical || echo DIFFERENT; }

# wait_resync NODE BEFORE SECONDS: until NODE's log reports more than
# BEFORE resyncs done. It reads the log: polling halun cluster status (a
# process, an etcd connection and a TLS handshake each time) would take
# CPU from the resync it times.
wait_resync() {
  local deadline=$((SECONDS + $3))
  while [ "$(resyncs_done "$1")" -le "$2" ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# (i) Full resync onto the existing image. A node that restarts is
# resynced by its primary's bitmap, a former primary by its activity log
# too; a full resync is what an operator asks for with halun cluster
# discard (DRBD: invalidate), or what a new, empty copy gets (below).
log "full resync: kill -9 the primary ($primary), wait for $replica to take over"
kill -9 "${PID[$primary]}"; wait "${PID[$primary]}" 2>/dev/null || true
old=$primary
wait_for "(.primary // \"\") == \"$replica\"" 60 || die "$replica did not take over within 60 s"
primary=$replica; replica=$old
wait_for "any((.out_of_sync // [])[]; . == \"$replica\")" 30 || die "$replica not out of sync after the failover"
log "primary: $primary; discarding $replica's copy (halun cluster discard) and restarting it"
"$halun" cluster discard --config "$work/$primary.yaml" vol "$replica" >/dev/null || die "cluster discard failed"
done_before=$(resyncs_done "$primary")
t0=$(date +%s.%N)
start_node "$replica"
wait_resync "$primary" "$done_before" 600 || die "$replica not resynced within 600 s"
t1=$(date +%s.%N)
wait_for "$IN_SYNC" 60 || die "$replica resynced but not in sync"
read -r full_copied full_took full_rate < <(last_resync "$primary")
full_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.1f", b-a }')
full_wall_rate=$(awk -v s="$full_wall" 'BEGIN{ printf "%.0f", 1024/s }')
full_same=$(same_images)
log "full resync: copied $full_copied bytes in $full_took ($full_rate MiB/s); restart to in sync ${full_wall}s; images $full_same"
URL_ha="iscsi://$(addr "$primary"):$ISCSI_PORT/$IQN/0"

# (i') Full resync onto a new, empty image: the replica's image is deleted
# while it is down (one write makes the primary take it out of sync). Its
# node creates the file anew, and every page the resync writes is new
# memory to the machine: dd into a new file on /dev/shm measures that
# cost alone.
log "full resync onto a new image: kill -9 the replica ($replica), delete its image, restart"
kill -9 "${PID[$replica]}"; wait "${PID[$replica]}" 2>/dev/null || true
qemu-io -f raw -c "write -P 7 0 4k" "$URL_ha" >"$work/writer.out" 2>&1 || die "a write to the primary failed: $(cat "$work/writer.out")"
wait_for "any((.out_of_sync // [])[]; . == \"$replica\")" 30 || die "$replica not out of sync after a write"
rm -f "$work/$replica/vol.img"
done_before=$(resyncs_done "$primary")
start_node "$replica"
wait_resync "$primary" "$done_before" 600 || die "$replica not resynced within 600 s"
wait_for "$IN_SYNC" 60 || die "$replica resynced but not in sync"
read -r new_copied new_took new_rate < <(last_resync "$primary")
new_same=$(same_images)
dd_new=$(dd if=/dev/zero of="$work/touch" bs=1M count=1024 2>&1 | awk '/copied/{ for (i=1;i<=NF;i++) if ($i=="s,") print $(i-1) }')
rm -f "$work/touch"
dd_rate=$(awk -v s="$dd_new" 'BEGIN{ printf "%.0f", 1024/s }')
log "full resync onto a new image: copied $new_copied bytes in $new_took ($new_rate MiB/s); images $new_same; dd into a new file: $dd_rate MiB/s"

log "measuring loopback TCP with iperf3 (one stream, no TLS)"
iperf3 -s -1 -B 127.0.0.1 -p "$IPERF_PORT" >/dev/null 2>&1 &
PID[iperf]=$!
sleep 0.5
ceil=$(iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -t "$DURATION" -J 2>/dev/null |
  jq -r '.end.sum_received.bits_per_second // .end.sum.bits_per_second' | awk '{ printf "%.0f", $1/8/1048576 }')
wait "${PID[iperf]}" 2>/dev/null || true; unset 'PID[iperf]'

# (ii) Bitmap resync: outage_then_resync WRITER... kills the replica, runs
# WRITER against the primary, restarts the replica and sets copied to the
# bytes the resync copied. (Not in a subshell: it restarts a node.)
outage_then_resync() {
  local before
  kill -9 "${PID[$replica]}"; wait "${PID[$replica]}" 2>/dev/null || true
  "$@" >"$work/writer.out" 2>&1 || die "writing during the outage failed: $(cat "$work/writer.out")"
  wait_for "any((.out_of_sync // [])[]; . == \"$replica\")" 30 || die "$replica not out of sync after the writes"
  before=$(resyncs_done "$primary")
  start_node "$replica"
  wait_for "$IN_SYNC" 300 || die "$replica not back in sync within 300 s"
  for _ in $(seq 50); do [ "$(resyncs_done "$primary")" -gt "$before" ] && break; sleep 0.2; done
  copied=$(last_resync "$primary" | awk '{print $1}')
}
# RAND_WRITES 4 KiB writes at random 4 KiB-aligned offsets, one qemu-io
# session (QD1).
awk -v n="$RAND_WRITES" 'BEGIN{ srand(10); for (i=0; i<n; i++) printf "write -P %d %d 4k\n", i%256, int(rand()*262144)*4096 }' > "$work/rand.cmds"
log "bitmap resync: kill -9 the replica ($replica), $RAND_WRITES random 4 KiB writes, restart"
rand_written=$((RAND_WRITES*4096))
outage_then_resync sh -c "qemu-io -f raw '$URL_ha' < '$work/rand.cmds'"
rand_copied=$copied
rand_same=$(same_images)
log "random 4 KiB: written $rand_written, copied $rand_copied, images $rand_same"
log "bitmap resync: kill -9 the replica ($replica), $SEQ_WRITES sequential 1 MiB writes, restart"
seq_written=$((SEQ_WRITES*1048576))
outage_then_resync qemu-img bench -w -d 8 -s 1M -c "$SEQ_WRITES" -o 256M -f raw "$URL_ha"
seq_copied=$copied
seq_same=$(same_images)
log "sequential 1 MiB: written $seq_written, copied $seq_copied, images $seq_same"

name() {
  case $1 in
    w4k) echo "4 KiB write QD32 (IOPS)";; lat4k) echo "4 KiB write QD1 latency (µs)";;
    seqw1m) echo "1 MiB sequential write QD8 (MiB/s)";;
  esac
}
# busy WORKLOAD VALUE CPU_S_PER_GIB -> cores kept busy at that rate
busy() {
  case $1 in
    w4k)    awk -v v="$2" -v c="$3" 'BEGIN{ printf "%.2f", c*v*4096/1073741824 }' ;;
    lat4k)  awk -v v="$2" -v c="$3" 'BEGIN{ if (v>0) printf "%.2f", c*(1e6/v)*4096/1073741824; else print 0 }' ;;
    seqw1m) awk -v v="$2" -v c="$3" 'BEGIN{ printf "%.2f", c*v/1024 }' ;;
  esac
}
goal() { case $1 in w4k|seqw1m) echo "≥ 0.6";; lat4k) echo "≤ 2";; esac; }
met() {
  case $1 in
    w4k|seqw1m) awk -v r="$2" 'BEGIN{ print (r>=0.6) ? "met" : "**missed**" }' ;;
    lat4k)      awk -v r="$2" 'BEGIN{ print (r<=2) ? "met" : "**missed**" }' ;;
  esac
}

mkdir -p "$(dirname "$OUT")"
{
  echo "# Replicated vs unreplicated halun, $(date -u +%Y-%m-%d) — $(nproc) CPUs, $(awk -F: '/model name/{print $2; exit}' /proc/cpuinfo | sed 's/^ //')"
  echo
  echo "\`scripts/bench-ha.sh\`, halun ${rev}. Medians of $ROUNDS alternating rounds; the same number of I/Os on both"
  echo "($count_w4k × 4 KiB at QD32, $count_lat4k × 4 KiB at QD1, $count_seqw1m × 1 MiB at QD8, \`qemu-img bench -w\`,"
  echo "which writes at sequential offsets). 1 GiB volumes of 512-byte blocks, thin: false, on /dev/shm."
  echo "Unreplicated: one halun. Replicated: two storage nodes and a witness on loopback, mutual TLS"
  echo "between them, the initiator on the primary's portal. Everything — initiator, both nodes, the"
  echo "witness — shares the same $(nproc) cores."
  echo
  echo "| workload | unreplicated | replicated | ratio | goal | |"
  echo "|---|---:|---:|---:|---:|---|"
  for w in "${workloads[@]}"; do
    s=$(med "${vals[$w,solo]}"); h=$(med "${vals[$w,ha]}")
    ratio=$(awk -v a="$h" -v b="$s" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print 0 }')
    echo "| $(name "$w") | $s | $h | $ratio | $(goal "$w") | $(met "$w" "$ratio") |"
  done
  echo
  echo "CPU seconds per GiB written (medians; /proc/PID/stat user+system):"
  echo
  echo "| workload | unreplicated halun | primary | replica | witness | primary + replica | client (unrepl.) | client (repl.) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for w in "${workloads[@]}"; do
    p=$(med "${cpu[$w,ha,primary]}"); r=$(med "${cpu[$w,ha,replica]}")
    echo "| $(name "$w" | sed 's/ (.*//') | $(med "${cpu[$w,solo,solo]}") | $p | $r | $(med "${cpu[$w,ha,witness]}") |" \
      "$(awk -v a="$p" -v b="$r" 'BEGIN{ printf "%.1f", a+b }') | $(med "${cpu[$w,solo,client]}") | $(med "${cpu[$w,ha,client]}") |"
  done
  echo
  echo "Cores busy during each run (CPU seconds per GiB of every process, initiator included, times GiB per second;"
  echo "the machine has $(nproc), and the load average was $load_start when the run began — other work shares them):"
  echo
  echo "| workload | unreplicated | replicated |"
  echo "|---|---:|---:|"
  for w in "${workloads[@]}"; do
    s=$(med "${vals[$w,solo]}"); h=$(med "${vals[$w,ha]}")
    sc=$(awk -v a="$(med "${cpu[$w,solo,solo]}")" -v c="$(med "${cpu[$w,solo,client]}")" 'BEGIN{ print a+c }')
    hc=$(awk -v a="$(med "${cpu[$w,ha,primary]}")" -v b="$(med "${cpu[$w,ha,replica]}")" -v w="$(med "${cpu[$w,ha,witness]}")" -v c="$(med "${cpu[$w,ha,client]}")" 'BEGIN{ print a+b+w+c }')
    echo "| $(name "$w" | sed 's/ (.*//') | $(busy "$w" "$s" "$sc") | $(busy "$w" "$h" "$hc") |"
  done
  echo
  echo "Peak RSS: unreplicated ${rss_solo} MiB, primary ${rss_p} MiB, replica ${rss_r} MiB."
  echo
  echo "## Resync"
  echo
  echo "Loopback TCP (iperf3, one stream, no TLS): ${ceil} MiB/s."
  echo
  echo "| resync | written while away | copied | copied/written | time | rate | goal | |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  pct=$(awk -v a="$full_rate" -v c="$ceil" 'BEGIN{ if (c>0) printf "%.0f", 100*a/c; else print 0 }')
  echo "| full (1 GiB, discarded copy), copy | — | $((full_copied/1048576)) MiB | — | $full_took | $full_rate MiB/s = $pct % of loopback | ≥ 50 % | $(awk -v p="$pct" 'BEGIN{ print (p>=50) ? "met" : "**missed**" }') |"
  pctw=$(awk -v a="$full_wall_rate" -v c="$ceil" 'BEGIN{ if (c>0) printf "%.0f", 100*a/c; else print 0 }')
  echo "| full, restart to in sync | — | — | — | ${full_wall}s | $full_wall_rate MiB/s = $pctw % of loopback | | |"
  pctn=$(awk -v a="$new_rate" -v c="$ceil" 'BEGIN{ if (c>0) printf "%.0f", 100*a/c; else print 0 }')
  echo "| full (1 GiB) onto a new, empty image, copy | — | $((new_copied/1048576)) MiB | — | $new_took | $new_rate MiB/s = $pctn % of loopback | | see below |"
  for k in rand seq; do
    if [ $k = rand ]; then wr=$rand_written; cp=$rand_copied; lbl="$RAND_WRITES random 4 KiB writes"; else wr=$seq_written; cp=$seq_copied; lbl="$SEQ_WRITES sequential 1 MiB writes"; fi
    ratio=$(awk -v a="$cp" -v b="$wr" 'BEGIN{ printf "%.2f", a/b }')
    echo "| bitmap, $lbl | $((wr/1024)) KiB | $((cp/1024)) KiB | $ratio | | | ≤ 2 | $(awk -v r="$ratio" 'BEGIN{ print (r<=2) ? "met" : "**missed**" }') |"
  done
  echo
  echo "After each resync the two images were compared with cmp: $full_same, $new_same, $rand_same, $seq_same."
  echo
  echo "Writing 1 GiB into a new file on /dev/shm with dd, in the same run: $dd_rate MiB/s. A new image's"
  echo "pages are new memory to this virtual machine, and its first touch of them is slow; the"
  echo "discarded copy's pages exist, so that row measures the replication link."
  echo
  echo "## What bounds the replicated figures"
  echo
  echo "- Both nodes, the witness and the initiator share the $(nproc) cores: a replicated write costs the"
  echo "  primary's local write, a TLS encryption, two loopback socket writes and reads (request and"
  echo "  reply), the replica's TLS decryption and its own write, all on those cores. The CPU table"
  echo "  gives the price: primary + replica against the unreplicated halun, per GiB."
  echo "- Where the cores-busy figure is near $(nproc), the run is CPU-bound; where it is well below"
  echo "  (QD1), it is latency-bound: each write waits for the network round trip to the replica"
  echo "  and for the replica's write, one after the other, with the scheduler waking four processes."
  echo "- A full resync copies over one TLS connection (chunks of 1 MiB, 4 in flight); iperf3 measures"
  echo "  plain TCP, with no encryption and no disk write at the far end."
  echo "- A bitmap resync copies whole grains of 4 KiB (replication.BitmapGrain): a write smaller"
  echo "  than a grain costs a grain to resync, a write of whole grains exactly its size."
  echo "- A full resync reads the primary's image and writes the replica's: on /dev/shm here, so"
  echo "  neither disk bounds it."
} | tee "$OUT"
