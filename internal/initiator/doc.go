// Package initiator is a small iSCSI initiator (RFC 7143, initiator side,
// ErrorRecoveryLevel 0) used by halun's tests, benchmarks and verification
// tools. It speaks to any target over TCP using only the standard library and
// the wire format package internal/iscsi/pdu; it knows nothing of halun's
// target internals.
//
// A Session is one iSCSI session on one TCP connection (MaxConnections=1).
// It runs one reader goroutine that dispatches target PDUs to waiting tasks,
// answers target NOP-In pings, follows StatSN, ExpCmdSN and MaxCmdSN, and
// serialises writes through a mutex. Commands may be issued concurrently: each
// waits for room in the CmdSN window, sends immediate and unsolicited data as
// negotiated, and answers R2Ts from a per-command goroutine so the reader
// never blocks on the network.
//
// The pure parts — login key negotiation, Data-Out planning, Data-In
// reassembly, sense, SendTargets and REPORT LUNS parsing — are plain functions
// tested without a network.
//
// Raw access: (*Session).Raw stops the reader at a PDU boundary and hands the
// connection over as a RawConn for malformed-input tests; DialRaw opens a
// RawConn before any login.
package initiator
