// Package login implements the target side of the iSCSI Login Phase (RFC 7143
// §6 and §11.12–11.13): login stages and their transitions, text-key
// negotiation of every key of RFC 7143 §13, the security stage (AuthMethod
// and, through Authenticator, methods such as CHAP), and the choice of Login
// Response status.
//
// The package is pure: it has no sockets, goroutines, clocks or logging. The
// transport feeds a Negotiator one Login Request at a time (header and data
// segment) and sends the Response it returns; session creation, reinstatement
// and connection accounting are delegated to the Env the transport supplies.
// NegotiateText answers the few keys that may be negotiated again in Full
// Feature Phase Text Requests.
//
// Choices where the RFC leaves room:
//
//   - Every protocol error (changed ISID/TSIH/ITT/CID/CmdSN/version, T and C
//     together, bad stage codes, malformed text, a key negotiated twice, a
//     reserved constant proposed as a value, a target-only key from the
//     initiator) is refused with 0200 "initiator error", as RFC 7143 §6
//     prescribes for renegotiation and as Linux LIO does for the rest.
//   - Out-of-range or malformed values are answered Reject; keys irrelevant
//     to the session type, or session-wide keys on a connection added to a
//     session, Irrelevant; unknown and X-/X# keys NotUnderstood. An invalid
//     MaxRecvDataSegmentLength declaration refuses the login instead, since
//     the target's own declaration uses the same key.
//   - Boolean answers are always sent, even where RFC 7143 makes them
//     optional. IFMarker/OFMarker are answered No and IFMarkInt/OFMarkInt
//     Reject (both allowed for these obsoleted keys).
//   - A key the initiator did not offer whose RFC default the target cannot
//     accept (ImmediateData=No, smaller bursts, required digests) is offered
//     by the target when the initiator asks to enter full feature phase; T is
//     withheld until the initiator answers.
//   - An unknown SessionType is refused with 0209, a target not reachable
//     through the connection's portal group with 0203.
//   - CHAPAuthenticator (chap.go) implements CHAP with CHAP_A 5, 6, 7 and 8
//     (MD5, SHA-1, SHA-256, SHA3-256), choosing the first of the
//     initiator's list; identifiers and challenges (the digest size, at
//     least 16 bytes) come from an injected random source. Mutual CHAP is
//     required when configured, and a reflected challenge fails with 0201.
//   - InitiatorName is reported in lower case (RFC 3722 case folding), so
//     access decisions and I_T nexuses never depend on the spelling.
//   - A response longer than 8192 bytes is sent in C-bit parts; the T bit is
//     never set on such a part, so the initiator asks again once all is sent.
package login
