// Package testutil holds helpers shared by the tests of several packages.
// It imports only the standard library, so every package's tests,
// including the internal tests of package convert, may use it.
package testutil

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"syscall"
	"testing"
	"time"
)

// SHA256Float32 hashes float32 values as little-endian bytes (numpy '<f4'),
// the digest the fixture generators write into golden.json.
func SHA256Float32(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReadJSON decodes the JSON file at path into v, failing tb when the file
// cannot be read or decoded.
func ReadJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

// JSONObject marshals v and decodes the JSON object it gives into a map
// (numbers as float64), returning both, failing tb when either step fails.
func JSONObject(tb testing.TB, v any) ([]byte, map[string]any) {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("%s: %v", b, err)
	}
	return b, m
}

// ReadFile returns the contents of the file at path, failing tb when it
// cannot be read.
func ReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// DirNames returns the names of the entries of dir, sorted (os.ReadDir),
// failing tb when dir cannot be read.
func DirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// ProcessCPU is the CPU time (user + system) this process has used so far:
// with one worker thread it measures a run's work even on a machine shared
// with other jobs, where wall time does not. It fails tb if the time cannot
// be read.
func ProcessCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PrivateTMPDIR points TMPDIR at a fresh empty folder for the rest of the
// test (t.Setenv: not for parallel tests) and returns it, so that the test
// can require that the code under test left nothing there.
func PrivateTMPDIR(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	return tmp
}
