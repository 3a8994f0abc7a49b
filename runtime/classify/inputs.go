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
// sorted order, hidden names skipped; with ImageExtensions, and with
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
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != a && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && (isImageName(d.Name()) || slices.Contains(preprocess.UndecodedExtensions, strings.ToLower(filepath.Ext(d.Name())))) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", a, err)
		}
		if len(out) == n {
			return nil, fmt.Errorf("directory %s holds no image files (%s)", a, strings.Join(ImageExtensions, ", "))
		}
	}
	return out, nil
}

func isImageName(name string) bool { return preprocess.IsImageName(name) }
