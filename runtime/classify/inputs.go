package classify

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// ImageExtensions are the file name suffixes (compared in lower case) that
// ExpandPaths takes from a directory: preprocess.ImageExtensions.
var ImageExtensions = preprocess.ImageExtensions

// ExpandPaths turns command-line arguments into the list of files to
// classify: a directory becomes the image files under it (recursively, in
// sorted order, hidden names skipped, symlinked folders followed as
// torchvision's ImageFolder follows them; with ImageExtensions, and with
// preprocess.UndecodedExtensions so that a WebP or TIFF file gets an error
// rather than being skipped unseen), anything else stays as given, so
// that a missing or unreadable file gets its own error when classified.
// A directory holding no image file is an error naming it.
func ExpandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		n := len(out)
		if err := walkImages(a, map[string]bool{}, &out); err != nil {
			return nil, fmt.Errorf("listing %s: %w", a, err)
		}
		if len(out) == n {
			return nil, fmt.Errorf("directory %s holds no image files (%s)", a, strings.Join(ImageExtensions, ", "))
		}
	}
	return out, nil
}

// walkImages appends the files under dir that ExpandPaths lists to out, depth
// first in name order. A symlink to a folder is walked like a folder; walking is
// the set of real paths of the folders being walked (dir's ancestors), so that a
// link back to one of them is not followed again.
func walkImages(dir string, walking map[string]bool, out *[]string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if walking[real] {
		return nil
	}
	walking[real] = true
	defer delete(walking, real)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p) // a broken link stays a file: it gets its own error
			isDir = err == nil && st.IsDir()
		}
		if isDir {
			if err := walkImages(p, walking, out); err != nil {
				return err
			}
		} else if isImageName(e.Name()) || slices.Contains(preprocess.UndecodedExtensions, strings.ToLower(filepath.Ext(e.Name()))) {
			*out = append(*out, p)
		}
	}
	return nil
}

func isImageName(name string) bool { return preprocess.IsImageName(name) }
