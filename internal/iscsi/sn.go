package iscsi

// Serial number arithmetic of RFC 1982 with SERIAL_BITS = 32, as RFC 7143
// §4.2.2.1 requires for CmdSN, StatSN and DataSN comparisons.

// snLess reports a < b.
func snLess(a, b uint32) bool { return a != b && int32(a-b) < 0 }

// snLessEq reports a <= b.
func snLessEq(a, b uint32) bool { return a == b || int32(a-b) < 0 }
