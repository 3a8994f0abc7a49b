package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkOutput refuses, before any work is done, an output path that cannot
// or must not be written: a directory, a file in a missing directory (or
// under something that is not one), or one of inputs (the same file, also
// through a symbolic or hard link). hint is a file name suggested when out
// is a directory ("model.onnx"). Inputs that cannot be stat'ed are skipped:
// reading them reports that.
func checkOutput(out, hint string, inputs ...string) error {
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
