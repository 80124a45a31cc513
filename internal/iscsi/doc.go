// Package iscsi owns the iSCSI transport of RFC 7143 on the target side:
// portals and their listeners, connections (one reader and one writer
// goroutine each), the login phase glue around package login, sessions with
// their CmdSN window and task table, SCSI command tasks with immediate,
// unsolicited and R2T-solicited data, Data-In, task management, NOP keepalive,
// text (SendTargets), logout, and a graceful shutdown that asks initiators to
// log out (shutdown.go). It runs at ErrorRecoveryLevel 0.
//
// It knows nothing of SCSI semantics: commands are handed to a scsi.Target
// and its results are carried back.
package iscsi
