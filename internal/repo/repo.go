// Package repo locates files of the vimconvert checkout (build outputs,
// bundled fixtures, the shared golden data) for tests and for a binary run
// from the checkout.
package repo

import (
	"os"
	"path/filepath"
)

// Root returns the directory holding go.mod, searching upward from the
// working directory and then from the running executable. It returns ""
// when neither lies inside a checkout.
func Root() string {
	starts := []string{}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
				if _, err := os.Stat(filepath.Join(d, "convert", "model.go")); err == nil {
					return d
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return ""
}

// Path joins elem onto Root(). It returns "" when Root() is "".
func Path(elem ...string) string {
	r := Root()
	if r == "" {
		return ""
	}
	return filepath.Join(append([]string{r}, elem...)...)
}

// Fixture returns the path of a bundled fixture under fixtures/.
func Fixture(elem ...string) string {
	return Path(append([]string{"fixtures"}, elem...)...)
}

// SharedFixture returns the path of a file in ../shared/fixtures (the full
// golden set, present on developer machines and CI but not in a fresh
// clone elsewhere) or "" when it does not exist.
func SharedFixture(elem ...string) string {
	r := Root()
	if r == "" {
		return ""
	}
	p := filepath.Join(append([]string{filepath.Dir(r), "shared", "fixtures"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
