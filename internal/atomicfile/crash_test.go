package atomicfile

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv, set to a file's path, turns the test binary into the
// writer TestCrashRewrite kills.
const crashChildEnv = "HALUN_ATOMICFILE_CRASH_CHILD"

// crashVersions are the complete contents the writer alternates between;
// they differ in length and in every byte, so a torn file matches neither.
func crashVersions() [2][]byte {
	a := append([]byte("version A\n"), bytes.Repeat([]byte{'A'}, 1<<20)...)
	b := append([]byte("version B\n"), bytes.Repeat([]byte{'B'}, 700<<10)...)
	return [2][]byte{a, b}
}

// crashChild rewrites path forever, alternating the two versions, and
// says "ready" after its first complete rewrite.
func crashChild(path string) {
	v := crashVersions()
	for i := 1; ; i++ {
		if err := Write(path, v[i%2], 0o600); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		if i == 1 {
			os.Stdout.WriteString("ready\n")
		}
	}
}

// TestCrashRewrite kills a process rewriting a file with SIGKILL at random
// moments: afterwards the file must always hold one complete version,
// never a torn, short or empty one.
func TestCrashRewrite(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	const kills = 30
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	v := crashVersions()
	if err := Write(path, v[0], 0o600); err != nil {
		t.Fatal(err)
	}
	seen := map[byte]int{}
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRewrite$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("writer did not start: %q %v\n%s", line, err, stderr.String())
		}
		time.Sleep(time.Duration(rand.Int64N(int64(40 * time.Millisecond))))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("writer ended other than by SIGKILL: %v\n%s", err, stderr.String())
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("after kill %d: %v", i, err)
		}
		if !bytes.Equal(got, v[0]) && !bytes.Equal(got, v[1]) {
			t.Fatalf("after kill %d the file is torn: %d bytes, starting %q", i, len(got), got[:min(len(got), 16)])
		}
		seen[got[8]]++
	}
	t.Logf("after %d kills: version A %d times, B %d times", kills, seen['A'], seen['B'])
}
