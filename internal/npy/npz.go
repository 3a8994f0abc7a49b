package npy

import (
	"archive/zip"
	"bufio"
	"fmt"
	"slices"
	"strings"
)

// Archive is an open NumPy .npz file (np.savez, np.savez_compressed): a
// zip archive of .npy members, one per array, named after the keyword
// (np.savez(path, x=a) stores "x.npy"; positional arrays are "arr_0.npy",
// ...). Members are read one at a time, so only the array asked for is
// decoded.
type Archive struct {
	path    string
	zr      *zip.ReadCloser
	members map[string]*zip.File
}

// OpenArchive opens a .npz file. A file that is not a zip archive, or one
// holding anything but .npy members, is an error naming path.
func OpenArchive(path string) (*Archive, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: not a .npz (zip) archive: %v", path, ErrFormat, err)
	}
	a := &Archive{path: path, zr: zr, members: map[string]*zip.File{}}
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok || name == "" {
			zr.Close()
			return nil, fmt.Errorf("%s: %w: member %q of the .npz archive is not a .npy array", path, ErrFormat, f.Name)
		}
		if _, dup := a.members[name]; dup {
			zr.Close()
			return nil, fmt.Errorf("%s: %w: the .npz archive holds %q twice", path, ErrFormat, f.Name)
		}
		a.members[name] = f
	}
	return a, nil
}

// Names returns the array names (member names without ".npy"), sorted.
func (a *Archive) Names() []string {
	names := make([]string, 0, len(a.members))
	for n := range a.members {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Read decodes the array called name (see Read for what is accepted).
func (a *Archive) Read(name string) (*Array, error) {
	f, ok := a.members[name]
	if !ok {
		return nil, fmt.Errorf("%s: no array %q in the .npz archive (have %v)", a.path, name, a.Names())
	}
	if lim := maxInflated(f.CompressedSize64); f.UncompressedSize64 > lim {
		return nil, fmt.Errorf("%s[%s]: %w: member %s inflates from %d to %d bytes, more than the %d a .npz array may (a decompression bomb?)",
			a.path, name, ErrFormat, f.Name, f.CompressedSize64, f.UncompressedSize64, lim)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s[%s]: %w: %v", a.path, name, ErrFormat, err)
	}
	defer rc.Close()
	arr, err := Read(bufio.NewReader(rc))
	if err != nil {
		return nil, fmt.Errorf("%s[%s]: %w", a.path, name, err)
	}
	return arr, nil
}

// maxInflated bounds the decompressed size of a .npz member of
// compressed bytes: 64 times that (deflate could give ~1032 times) plus
// 64 MiB, so a mostly-zero batch of a few hundred MB still reads while a
// few-MB file cannot claim gigabytes of memory. archive/zip holds a member
// to its declared size.
func maxInflated(compressed uint64) uint64 { return 64*compressed + 64<<20 }

// Close closes the archive file.
func (a *Archive) Close() error { return a.zr.Close() }
