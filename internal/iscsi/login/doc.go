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
package login
