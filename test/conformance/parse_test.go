package conformance

import "testing"

func TestParseCUnitOutput(t *testing.T) {
	out := `Suite: Read10
  Test: Simple ...passed
  Test: BeyondEol ...FAILED
    1. test_read10_beyond_eol.c:60  - ret == 0
  Test: ReadProtect ...[SKIPPED] READ10 is not implemented.
passed
  Test: Async ...    READ10 dispatched: 1 of 1000
passed    [SKIPPED] PERSISTENT RESERVE IN is not implemented.
  Test: ExpectedFailures ...    [FAILED] WRITE10 command failed with status 2
    [FAILED] WRITE10 command failed with status 2
passed
  Test: Crashed ...
Run Summary:    Type  Total    Ran Passed Failed Inactive
`
	got := parse(out)
	want := map[string]string{"Simple": Pass, "BeyondEol": Fail, "ReadProtect": Skip, "Async": Pass, "ExpectedFailures": Pass,
		"Crashed": Error}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d results, want %d: %v", len(got), len(want), got)
	}
}
