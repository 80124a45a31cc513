// Package service tests halun as the operating system's service managers
// run it: the systemd unit in dist/systemd (systemd-analyze verify), the
// sd_notify protocol of `halun serve` (READY, RELOADING, STOPPING,
// WATCHDOG) over a NOTIFY_SOCKET the test listens on, the JSON log format
// with its per-session fields, and the Pacemaker resource agent in ocf/
// driven by ocf-tester against a real daemon. Each test starts its daemon
// with test/harness.
package service
