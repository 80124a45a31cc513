// Package initiator is a small iSCSI initiator (RFC 7143, initiator side,
// ErrorRecoveryLevel 0) used by halun's tests, benchmarks and verification
// tools. It speaks to any target over TCP using only the standard library and
// the wire format package internal/iscsi/pdu; it knows nothing of halun's
// target internals.
//
// # Sessions
//
// Dial connects and logs in (security stage with AuthMethod None or CHAP,
// one-way or mutual, then the operational stage; or straight to the
// operational stage with Options.SkipSecurityStage) and returns a Session in
// full feature phase. Discover and SendTargets run a discovery session.
//
// A Session is one iSCSI session on one connection (MaxConnections=1). It
// runs one reader goroutine that dispatches target PDUs to waiting tasks,
// answers target NOP-In pings (echoing the TTT), follows StatSN, ExpCmdSN and
// MaxCmdSN, and handles Reject and Async Message PDUs; writes are serialised
// by a mutex. Commands may be issued concurrently: each waits for room in the
// CmdSN window, sends immediate and unsolicited data as negotiated, and
// answers R2Ts from a per-command goroutine so that the reader never blocks
// on the network. Every PDU sent respects the target's declared
// MaxRecvDataSegmentLength.
//
// The initiator is strict about what it receives: a target PDU that breaks a
// rule it relies on (DataSN or StatSN out of sequence, Data-In outside the
// transfer, an R2T beyond the data or above MaxBurstLength, an unexpected
// opcode) ends the session with an error wrapping ErrProtocol, as ERL 0
// prescribes. Irregularities it can tolerate (a response for an unknown
// task, a wrong ExpDataSN) are recorded and returned by Session.Anomalies, so
// conformance tests can assert there were none.
//
// # Raw access
//
// Session.Raw stops the reader at a PDU boundary and hands the connection,
// with its digests and sequence numbers, to a RawConn for malformed-input
// tests; DialRaw opens a RawConn before any login, and RawConn.Login logs in
// without starting a session.
//
// # Pure parts
//
// Login key negotiation, CHAP, Data-Out planning, Data-In reassembly and the
// parsing of sense data, SendTargets answers and REPORT LUNS data are plain
// functions, covered by table tests and fuzz targets (seeds in
// testdata/fuzz). Session behaviour is tested against a scripted fake target
// in fake_target_test.go; tgt_interop_test.go (build tag tgtinterop) runs
// against a real target such as tgt.
package initiator
