package graph

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomicFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		reason   string
		existing bool
	}{
		{"new file", false},
		{"existing file is kept unchanged", true},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.onnx")
			if tc.existing {
				if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			orig := writeChunk
			t.Cleanup(func() { writeChunk = orig })
			calls := 0
			writeChunk = func(f *os.File, p []byte) (int, error) {
				calls++
				if calls == 2 {
					return 0, errors.New("disk full (injected)")
				}
				return f.Write(p)
			}
			data := make([]byte, 9<<20) // three 4 MiB chunks; the second fails
			err := writeAtomic(context.Background(), path, data, nil)
			if err == nil {
				t.Fatal("writeAtomic succeeded despite the injected failure")
			}
			entries, _ := os.ReadDir(dir)
			if tc.existing {
				got, _ := os.ReadFile(path)
				if string(got) != "previous" || len(entries) != 1 {
					t.Errorf("existing file changed or temp file left: %q, %d entries", got, len(entries))
				}
			} else if len(entries) != 0 {
				t.Errorf("directory holds %d entries after a failed write, want 0 (first: %s)", len(entries), entries[0].Name())
			}
		})
	}
}
