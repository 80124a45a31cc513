#!/usr/bin/env bash
# Installs the Debian packages halun's tests talk to (libiscsi's tools,
# QEMU's iSCSI driver, qemu-block-extra, tgt, promtool from prometheus,
# resource-agents' ocf-tester) when they are missing. Safe to run repeatedly.
set -euo pipefail
need=()
command -v iscsi-test-cu >/dev/null 2>&1 || need+=(libiscsi-bin)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
# qemu-utils only recommends the iscsi:// driver; without it qemu-img and
# qemu-io answer "Unknown protocol 'iscsi'".
dpkg-query -W -f='${Status}' qemu-block-extra 2>/dev/null | grep -q 'ok installed' || need+=(qemu-block-extra)
# tgt is the reference target test/tgt imports from and compares with.
command -v tgtd >/dev/null 2>&1 && command -v tgtadm >/dev/null 2>&1 || need+=(tgt)
# promtool (package prometheus) checks the metrics endpoint's exposition.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# test/service: ocf-tester checks the Pacemaker agent ocf/halun, and
# validates its meta-data with xmllint; systemd-analyze verifies the unit.
command -v ocf-tester >/dev/null 2>&1 || need+=(resource-agents)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing test peers: ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
