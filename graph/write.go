package graph

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// WriteFile serializes m to path atomically: the bytes go to a temporary
// file in the same directory, which is fsynced and renamed over path. On
// any error the temporary file is removed and path is left untouched.
func WriteFile(m *onnxpb.ModelProto, path string) error {
	return WriteFileProgress(m, path, nil)
}

// WriteFileProgress is WriteFile that reports the bytes written so far (and
// the total) to progress, when not nil, as the file is written.
func WriteFileProgress(m *onnxpb.ModelProto, path string, progress func(written, total int64)) error {
	if m == nil {
		return errors.New("graph: write: nil model")
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("graph: write %s: is a directory", path)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("graph: serialize model: %w", err)
	}
	return writeAtomic(path, data, progress)
}

// writeAtomic writes data to path via temp file + fsync + rename.
func writeAtomic(path string, data []byte, progress func(written, total int64)) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("graph: write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	total := int64(len(data))
	const chunk = 4 << 20
	for off := int64(0); off < total; {
		n := min(chunk, total-off)
		if _, err := writeChunk(tmp, data[off:off+n]); err != nil {
			return fmt.Errorf("graph: write %s: %w", path, err)
		}
		off += n
		if progress != nil {
			progress(off, total)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("graph: write %s: sync: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("graph: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("graph: write %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("graph: write %s: %w", path, err)
	}
	// Make the rename durable; a failure here does not undo the write.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// writeChunk writes to the temp file; tests replace it to inject failures.
var writeChunk = func(f *os.File, p []byte) (int, error) { return f.Write(p) }

// Marshal serializes m (proto.Marshal); exposed so callers can size or hash
// a model without writing it.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) { return proto.Marshal(m) }

// CheckOutput refuses, before any work is done, an output path that cannot
// or must not be written: a directory, a file in a missing directory (or
// under something that is not one), or one of inputs (the same file, also
// through a symbolic or hard link). hint is a file name suggested when out
// is a directory ("model.onnx"). Inputs that cannot be stat'ed are skipped:
// reading them reports that.
func CheckOutput(out, hint string, inputs ...string) error {
	if fi, err := os.Stat(out); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("output %s is a directory; give a file name such as %s", out, filepath.Join(out, hint))
		}
		for _, in := range inputs {
			if in == "" {
				continue
			}
			if ii, err := os.Stat(in); err == nil && os.SameFile(ii, fi) {
				return fmt.Errorf("output %s is the input %s; refusing to overwrite it", out, in)
			}
		}
	}
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("output directory %s is not a directory", dir)
	}
	return nil
}
