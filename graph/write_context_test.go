package graph

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteAtomicCancelled: a context cancelled while the file is written
// stops the write, removes the temporary and leaves the final path as it
// was (absent, or the previous file).
func TestWriteAtomicCancelled(t *testing.T) {
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.onnx")
		if existing {
			if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		data := make([]byte, 9<<20) // three 4 MiB chunks
		err := writeAtomic(ctx, path, data, func(written, total int64) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("existing %v: writeAtomic = %v, want context.Canceled", existing, err)
		}
		entries, _ := os.ReadDir(dir)
		got, _ := os.ReadFile(path)
		if existing && (string(got) != "previous" || len(entries) != 1) {
			t.Errorf("previous file changed or temp left: %q, %d entries", got, len(entries))
		}
		if !existing && len(entries) != 0 {
			t.Errorf("cancelled write left %s", entries[0].Name())
		}
	}
}
