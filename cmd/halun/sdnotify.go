package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// systemd's service notification protocol (sd_notify(3)), for halun.service
// (Type=notify): READY=1 once every portal listens and every target is
// ready, RELOADING=1 … READY=1 around a reload, STOPPING=1 when a graceful
// shutdown begins, and WATCHDOG=1 every half WatchdogSec. Without
// NOTIFY_SOCKET in the environment (not started by systemd) every message
// is dropped and nothing else happens.

// notifier sends service state to systemd.
type notifier struct {
	log *slog.Logger
}

// send sends state; a failure to reach systemd is logged, never fatal: the
// node serves on, and systemd's own timeouts report what did not arrive.
func (n notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("systemd notification failed", "state", state, "err", err)
	}
}

// ready says the node is serving.
func (n notifier) ready() { n.send(daemon.SdNotifyReady) }

// reloading says a reload begins (begin) or has ended. RELOADING=1 carries
// MONOTONIC_USEC, which systemd 253 and later require with it and older
// versions ignore.
func (n notifier) reloading(begin bool) {
	if begin {
		n.send(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
		return
	}
	n.send(daemon.SdNotifyReady)
}

// stoppingWhenDone sends STOPPING=1 as soon as ctx ends, that is when the
// graceful shutdown begins (the first SIGTERM or SIGINT), not when it has
// finished: systemd then knows the drain of sessions is deliberate. The
// returned function cancels it.
func (n notifier) stoppingWhenDone(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, func() { n.send(daemon.SdNotifyStopping) })
}

// watchdog sends WATCHDOG=1 every half of WATCHDOG_USEC when systemd's
// watchdog is enabled for this process (WatchdogSec= in the unit), until
// ctx ends. The pings come from a goroutine of their own: they prove the
// process is scheduled and its runtime alive, which is what a hung or
// deadlocked-at-exit process fails.
func (n notifier) watchdog(ctx context.Context) {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("systemd watchdog: bad WATCHDOG_USEC or WATCHDOG_PID; not pinging", "err", err)
		return
	}
	if every <= 0 {
		return
	}
	every /= 2
	n.log.Info("systemd watchdog enabled", "ping_every", every)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		n.send(daemon.SdNotifyWatchdog)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n.send(daemon.SdNotifyWatchdog)
			}
		}
	}()
}
