#!/bin/sh
# halun's .deb postinst: the data directory of the packaged config, and
# systemd told about the new unit. The service is not enabled or started.
set -e
if [ "$1" = "configure" ]; then
	install -d -m 0750 /var/lib/halun
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
fi
exit 0
