package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/cleanup"
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
	return WriteFileContext(context.Background(), m, path, progress)
}

// WriteFileContext is WriteFileProgress that stops when ctx is done: the
// temporary file is removed, path is left as it was and ctx's error is
// returned. The temporary (.NAME.tmp-vimconvert-PID-RAND beside path) is
// registered with internal/cleanup, so an interrupt removes it too, and a
// later write into the same folder removes one stranded by a killed
// process.
func WriteFileContext(ctx context.Context, m *onnxpb.ModelProto, path string, progress func(written, total int64)) error {
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
	return writeAtomic(ctx, path, data, progress)
}

// writeAtomic writes data to path through cleanup.WriteFile (temporary
// file, fsync, rename) in chunks, reporting progress and stopping when ctx
// is done.
func writeAtomic(ctx context.Context, path string, data []byte, progress func(written, total int64)) error {
	err := cleanup.WriteFile(path, func(tmp *os.File) error {
		total := int64(len(data))
		const chunk = 4 << 20
		for off := int64(0); off < total; {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(chunk, total-off)
			if _, err := writeChunk(tmp, data[off:off+n]); err != nil {
				return err
			}
			off += n
			if progress != nil {
				progress(off, total)
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("graph: write %s: %w", path, err)
	}
	return nil
}

// writeChunk writes to the temp file; tests replace it to inject failures.
var writeChunk = func(f *os.File, p []byte) (int, error) { return f.Write(p) }

// Marshal serializes m (proto.Marshal); exposed so callers can size or hash
// a model without writing it.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) { return proto.Marshal(m) }

// CheckOutput refuses, before any work is done, an output path that cannot
// or must not be written: a directory, a file in a missing or read-only
// directory (or under something that is not one), or one of inputs (the
// same file, also through a symbolic or hard link). hint is a file name suggested when out
// is a directory ("model.onnx"); when it is a .npy name, out must be one
// too, since a .npy written under another name (y.pth, y.npz, y) is read
// back as something else. Inputs that cannot be stat'ed are skipped:
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
	if strings.EqualFold(filepath.Ext(hint), ".npy") && !strings.EqualFold(filepath.Ext(out), ".npy") {
		return fmt.Errorf("output %s: the file written is a NumPy .npy array; name it *.npy (other names are read back as torch files by --input/--expected, and np.save would add .npy)", out)
	}
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("output directory %s is not a directory", dir)
	}
	// The output is a temporary file created in dir and renamed, so dir
	// must be writable (a read-only out itself is replaced).
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	return nil
}
