#!/usr/bin/env bash
# Runs a load against a halun with its metrics endpoint on, has a
# Prometheus server scrape it every second, and takes a screenshot of the
# dashboard's main queries in Prometheus's own graph page over the run
# (headless Chromium): docs/grafana/prometheus-over-bench.png. Grafana is
# not installable on the machine this was built on; the queries are those
# of docs/grafana/halun-dashboard.json. Needs the Debian packages
# prometheus and chromium (installed when missing). Everything listens on
# 127.0.0.1.
#
#   scripts/metrics-shot.sh            # DURATION=60
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
OUT=${OUT:-docs/grafana/prometheus-over-bench.png}
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
work=$(mktemp -d /tmp/halun-metrics-shot.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/halun" ./cmd/halun
IQN=iqn.2026-12.io.halun:metrics-shot
cat > "$work/halun.yaml" <<YAML
node: { name: shot, data_dir: $work/data }
portal_groups:
  - { tag: 1, portals: ["127.0.0.1:3294"] }
volumes:
  - { name: db, backend: memory, size: 512MiB, serial: metricsshot0001 }
  - { name: vm, backend: memory, size: 512MiB, serial: metricsshot0002, thin: true }
targets:
  - iqn: $IQN
    luns: [{ lun: 0, volume: db }, { lun: 1, volume: vm }]
    access: { all: true }
YAML
"$work/halun" serve --config "$work/halun.yaml" --metrics-listen 127.0.0.1:9594 --log-level warn 2>"$work/halun.log" & pids+=($!)
cat > "$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: halun
    static_configs: [{ targets: ["127.0.0.1:9594"] }]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:9595 2>"$work/prometheus.log" & pids+=($!)
sleep 3
# Two loads: a write-heavy one on db, a read-heavy one rate-limited on vm,
# and halfway a burst of 64 KiB writes at QD32 past the region the
# verifying loads use (they would read data not theirs).
"$work/halun" bench --portal 127.0.0.1:3294 --target "$IQN" --lun 0 --duration "${DURATION}s" \
  --read-percent 30 --workers 4 --size 256MiB > "$work/bench0.log" 2>&1 & b0=$!
"$work/halun" bench --portal 127.0.0.1:3294 --target "$IQN" --lun 1 --duration "${DURATION}s" \
  --read-percent 80 --workers 2 --rate 3000 --size 256MiB > "$work/bench1.log" 2>&1 & b1=$!
sleep $((DURATION / 2))
command -v qemu-img >/dev/null && qemu-img bench -w -d 32 -s 64k -c 4000 -o 256M -f raw "iscsi://127.0.0.1:3294/$IQN/1" >/dev/null 2>&1 || true
rc=0; wait "$b0" || rc=$?; wait "$b1" || rc=$?
if [ "$rc" -ne 0 ]; then echo "halun bench failed ($rc):" >&2; for f in "$work"/bench*.log; do tail -n 5 "$f" >&2; done; exit 1; fi
sleep 2
q() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
range="$((DURATION + 10))s"
url="http://127.0.0.1:9595/graph?"
i=0
for expr in \
  'sum by (volume, class) (rate(halun_volume_commands_total{class=~"read|write"}[5s]))' \
  'sum by (volume) (rate(halun_volume_read_bytes_total[5s]) + rate(halun_volume_written_bytes_total[5s]))' \
  'histogram_quantile(0.99, sum by (le, volume, class) (rate(halun_volume_command_duration_seconds_bucket{class=~"read|write"}[5s])))' \
  'halun_volume_allocated_bytes / halun_volume_size_bytes'; do
  url+="g$i.expr=$(q "$expr")&g$i.tab=0&g$i.range_input=$range&"
  i=$((i + 1))
done
rm -f "$OUT"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,3100 \
  --virtual-time-budget=15000 --screenshot="$(realpath -m "$OUT")" "$url" 2>"$work/chromium.log"
[ -s "$OUT" ] || { echo "chromium wrote no screenshot:" >&2; tail -n 20 "$work/chromium.log" >&2; exit 1; }
echo "wrote $OUT"
grep -h "total\|ops/s" "$work"/bench*.log | tail -4 || true
