#!/usr/bin/env bash
# Benchmarks halun against tgt on this machine, side by side in one run.
#
# Both targets serve a 1 GiB volume of 512-byte blocks on /dev/shm, prefilled
# with the same random data. Each workload is measured on halun and tgt
# alternately (A B A B ...) for ROUNDS rounds of about DURATION seconds, and
# the medians and the ratio halun/tgt are printed, with each target's CPU
# time per GiB moved and per 4 KiB I/O (from /proc/PID/stat), its peak RSS,
# and the loopback ceiling measured with iperf3. Results also go to
# OUT (default docs/bench/latest.md).
#
#   scripts/bench.sh                 # ROUNDS=3 DURATION=10
#   ROUNDS=5 DURATION=20 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
OUT=${OUT:-docs/bench/latest.md}
HALUN_PORT=${HALUN_PORT:-3290}
TGT_PORT=${TGT_PORT:-3291}
TGT_CONTROL=${TGT_CONTROL:-19}
IQN_H=iqn.2026-11.io.halun:bench
IQN_T=iqn.2026-11.io.halun:tgt-bench

need=()
command -v tgtd >/dev/null || need+=(tgt)
command -v iscsi-perf >/dev/null || need+=(libiscsi-bin)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v iperf3 >/dev/null || need+=(iperf3)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d /dev/shm/halun-bench.XXXXXX)
pids=()
cleanup() {
  # tgtd ignores SIGTERM while it has targets: stop it through tgtadm first.
  tgtadm -C "$TGT_CONTROL" --op delete --mode system >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rev=$(git describe --always --dirty 2>/dev/null || echo "?")  # before the report file changes
echo "building halun"
go build -o "$work/halun" ./cmd/halun
echo "prefilling two 1 GiB volumes on /dev/shm"
head -c 1G /dev/urandom > "$work/halun.img"
cp "$work/halun.img" "$work/tgt.img"

cat > "$work/halun.yaml" <<YAML
node: { name: bench, data_dir: $work/data }
portal_groups:
  - { tag: 1, portals: ["127.0.0.1:$HALUN_PORT"] }
volumes:
  - { name: bench, backend: file, path: $work/halun.img, size: 1GiB, block_size: 512, serial: bench0001, thin: false }
targets:
  - iqn: $IQN_H
    luns: [{ lun: 0, volume: bench }]
    access: { all: true }
YAML
"$work/halun" serve --config "$work/halun.yaml" --log-level warn 2>"$work/halun.log" &
HPID=$!; pids+=("$HPID")
tgtd -f -C "$TGT_CONTROL" --iscsi portal=127.0.0.1:$TGT_PORT >"$work/tgtd.log" 2>&1 &
TPID=$!; pids+=("$TPID")
sleep 1
tgtadm -C "$TGT_CONTROL" --lld iscsi --op new --mode target --tid 1 -T "$IQN_T"
tgtadm -C "$TGT_CONTROL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$work/tgt.img"
tgtadm -C "$TGT_CONTROL" --lld iscsi --op bind --mode target --tid 1 -I ALL
for i in $(seq 50); do
  iscsi-inq "iscsi://127.0.0.1:$HALUN_PORT/$IQN_H/0" >/dev/null 2>&1 && break
  sleep 0.2
done

URL_halun="iscsi://127.0.0.1:$HALUN_PORT/$IQN_H/0"
URL_tgt="iscsi://127.0.0.1:$TGT_PORT/$IQN_T/1"
PID_halun=$HPID
PID_tgt=$TPID

# shellcheck source=scripts/lib/measure.sh
. scripts/lib/measure.sh  # the working directory is the repository's root

# run_one WORKLOAD TARGET -> prints "value cpu_seconds units_moved client_cpu_seconds"
run_one() {
  local w=$1 t=$2 url pid out before after val units
  url=$(eval echo "\$URL_$t"); pid=$(eval echo "\$PID_$t")
  before=$(ticks "$pid")
  echo 0 > "$work/client-cpu"
  case $w in
    rr4k)   out=$(client timeout $((DURATION+30)) iscsi-perf -r -m 32 -b 8 -t "$DURATION" "$url" 2>&1 | tr '\r' '\n')
            val=$(echo "$out" | grep -o 'iops average [0-9]*' | tail -1 | awk '{print $3}')
            units=$((val*DURATION)) ;;
    lat4k)  out=$(client timeout $((DURATION+30)) iscsi-perf -r -m 1 -b 8 -t "$DURATION" "$url" 2>&1 | tr '\r' '\n')
            iops=$(echo "$out" | grep -o 'iops average [0-9]*' | tail -1 | awk '{print $3}')
            val=$(awk -v i="$iops" 'BEGIN{ if (i>0) printf "%.1f", 1e6/i; else print 0 }')
            units=$((iops*DURATION)) ;;
    seqr1m) out=$(client timeout $((DURATION+30)) iscsi-perf -m 8 -b 2048 -t "$DURATION" "$url" 2>&1 | tr '\r' '\n')
            iops=$(echo "$out" | grep -o 'iops average [0-9]*' | tail -1 | awk '{print $3}')
            val=$iops  # MiB/s: one I/O is 1 MiB
            units=$((iops*DURATION)) ;;
    seqw1m) count=$((DURATION*400))
            out=$(client timeout $((DURATION*6+30)) qemu-img bench -w -d 8 -s 1M -c "$count" -f raw "$url" 2>&1)
            secs=$(echo "$out" | grep -o 'completed in [0-9.]*' | awk '{print $3}')
            val=$(awk -v c="$count" -v s="$secs" 'BEGIN{ if (s>0) printf "%.0f", c/s; else print 0 }')
            units=$count ;;
    w4k)    count=$((DURATION*20000))
            out=$(client timeout $((DURATION*6+30)) qemu-img bench -w -d 32 -s 4k -c "$count" -f raw "$url" 2>&1)
            secs=$(echo "$out" | grep -o 'completed in [0-9.]*' | awk '{print $3}')
            val=$(awk -v c="$count" -v s="$secs" 'BEGIN{ if (s>0) printf "%.0f", c/s; else print 0 }')
            units=$count ;;
  esac
  after=$(ticks "$pid")
  echo "${val:-0} $(awk -v a="$after" -v b="$before" -v h="$hz" 'BEGIN{printf "%.2f", (a-b)/h}') ${units:-0} $(cat "$work/client-cpu")"
}

# per_unit CPU_SECONDS UNITS WORKLOAD -> CPU s per GiB (1 MiB workloads) or
# µs per I/O (4 KiB ones)
per_unit() {
  case $3 in
    seqr1m|seqw1m) awk -v c="$1" -v u="$2" 'BEGIN{ if (u>0) printf "%.3f", c/(u/1024); else print 0 }' ;;
    *)             awk -v c="$1" -v u="$2" 'BEGIN{ if (u>0) printf "%.1f", c*1e6/u; else print 0 }' ;;
  esac
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

declare -A vals cpu ccpu
workloads=(rr4k lat4k seqr1m seqw1m w4k)
for r in $(seq "$ROUNDS"); do
  for w in "${workloads[@]}"; do
    for t in halun tgt; do
      read -r v c u cc < <(run_one "$w" "$t")
      vals[$w,$t]+="$v "
      cpu[$w,$t]+="$(per_unit "$c" "$u" "$w") "
      ccpu[$w,$t]+="$(per_unit "$cc" "$u" "$w") "
      echo "round $r $w $t: $v (cpu ${c}s, client ${cc}s)" >&2
    done
  done
done

echo "measuring loopback ceiling with iperf3" >&2
iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
sleep 0.5
ceil=$(iperf3 -c 127.0.0.1 -p 5299 -t "$DURATION" -J 2>/dev/null | awk -F: '/"bits_per_second"/{v=$2} END{gsub(/[ ,]/,"",v); printf "%.0f", v/8/1048576}')
rss() { awk '/VmHWM/{print int($2/1024)}' "/proc/$1/status"; }
rss_h=$(rss "$HPID"); rss_t=$(rss "$TPID")

name() {
  case $1 in
    rr4k) echo "4 KiB random read QD32 (IOPS)";; lat4k) echo "4 KiB read QD1 latency (µs)";;
    seqr1m) echo "1 MiB sequential read QD8 (MiB/s)";; seqw1m) echo "1 MiB sequential write QD8 (MiB/s)";;
    w4k) echo "4 KiB write QD32 (IOPS)";;
  esac
}
cpuunit() { case $1 in seqr1m|seqw1m) echo "CPU s/GiB";; *) echo "CPU µs/IO";; esac; }

mkdir -p "$(dirname "$OUT")"
{
  echo "# halun vs tgt, $(date -u +%Y-%m-%d) — $(nproc) CPUs, $(awk -F: '/model name/{print $2; exit}' /proc/cpuinfo | sed 's/^ //')"
  echo
  echo "Medians of $ROUNDS alternating rounds of ${DURATION}s; 1 GiB volumes of 512-byte blocks on /dev/shm."
  echo "halun ${rev}, tgt $(tgtd --version 2>/dev/null | head -1 || echo '?'). Loopback ceiling (iperf3, one stream): ${ceil} MiB/s."
  echo
  echo "| workload | halun | tgt | halun/tgt | halun CPU | tgt CPU | CPU ratio | client CPU (halun run) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for w in "${workloads[@]}"; do
    h=$(echo ${vals[$w,halun]} | tr ' ' '\n' | median); g=$(echo ${vals[$w,tgt]} | tr ' ' '\n' | median)
    hc=$(echo ${cpu[$w,halun]} | tr ' ' '\n' | median); gc=$(echo ${cpu[$w,tgt]} | tr ' ' '\n' | median)
    cc=$(echo ${ccpu[$w,halun]} | tr ' ' '\n' | median)
    printf "| %s | %s | %s | %s | %s %s | %s %s | %s | %s %s |\n" "$(name $w)" "$h" "$g" \
      "$(awk -v a="$h" -v b="$g" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')" \
      "$hc" "$(cpuunit $w)" "$gc" "$(cpuunit $w)" \
      "$(awk -v a="$hc" -v b="$gc" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')" \
      "$cc" "$(cpuunit $w)"
  done
  echo
  echo "Peak RSS: halun ${rss_h} MiB, tgt ${rss_t} MiB."
  echo
  echo "The client runs on the same $(nproc) cores. Where the cores are saturated, no target can"
  echo "beat (client CPU + tgt CPU) / client CPU times tgt, the ratio of a target that used no CPU:"
  for w in rr4k w4k; do
    gc=$(echo ${cpu[$w,tgt]} | tr ' ' '\n' | median); cc=$(echo ${ccpu[$w,tgt]} | tr ' ' '\n' | median)
    echo "$(name $w): client $cc µs/IO with tgt, tgt $gc µs/IO: bound $(awk -v c="$cc" -v g="$gc" 'BEGIN{ if (c>0) printf "%.2f", (c+g)/c; else print "?" }')× tgt."
  done
  for w in seqr1m seqw1m; do
    h=$(echo ${vals[$w,halun]} | tr ' ' '\n' | median)
    echo "$(name $w): halun at $(awk -v a="$h" -v c="$ceil" 'BEGIN{ if (c>0) printf "%.0f", 100*a/c; else print "?" }') % of the loopback ceiling."
  done
} | tee "$OUT"
