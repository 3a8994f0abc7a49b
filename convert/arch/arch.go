// Package arch decides which architecture a checkpoint holds, from its
// tensor names alone: Vision Mamba (package convert) or MambaOut (package
// convert/mambaout). It is the one place that knows every architecture
// vimconvert reads, so the commands can route a checkpoint before loading
// it; each architecture's loader then checks every tensor.
package arch

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
)

// Vim is the name of the Vision Mamba architecture in reports, ONNX
// metadata and `inspect --json` ("architecture").
const Vim = "vim"

// MambaOut is the name of the MambaOut architecture (mambaout.Architecture).
const MambaOut = mambaout.Architecture

// detector is one architecture's name-based test: whether names are its,
// and otherwise which of its always-present keys are missing.
type detector struct {
	name   string
	detect func(names []string) (bool, []string)
}

// detectors lists every architecture, in the order errors name them.
var detectors = []detector{
	{Vim, convert.DetectVim},
	{MambaOut, mambaout.Detect},
}

// ErrNotDetected is wrapped by the errors of Detect and DetectFile for a
// state dict that is neither architecture's, or looks like both.
var ErrNotDetected = errors.New("architecture not recognised")

// maxListed bounds how many missing keys an error names per architecture.
const maxListed = 8

// Detect returns the architecture (Vim or MambaOut) of a state dict with
// these tensor names. A state dict that is neither is an error listing,
// for each architecture, the keys it lacks; one that looks like both is an
// error too.
func Detect(names []string) (string, error) {
	var found []string
	var lacks []string
	for _, d := range detectors {
		ok, missing := d.detect(names)
		if ok {
			found = append(found, d.name)
			continue
		}
		lacks = append(lacks, fmt.Sprintf("not %s: missing %s", d.name, listKeys(missing)))
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: neither a Vim nor a MambaOut state dict (%d tensors: %s); %s%s",
			ErrNotDetected, len(names), listKeys(sorted(names)), strings.Join(lacks, "; "), mambaout.TimmPortHint(names))
	}
	return "", fmt.Errorf("%w: the state dict has the keys of both %s", ErrNotDetected, strings.Join(found, " and "))
}

// DetectFile reads the tensor names (no tensor data) of the checkpoint at path (the weight set weights of a
// training checkpoint) and returns its architecture, as Detect. An error
// reading the file is returned as convert.ReadStateDictNames gives it (it does
// not wrap ErrNotDetected).
func DetectFile(path string, weights convert.Weights) (string, error) {
	names, err := convert.ReadStateDictNames(path, weights)
	if err != nil {
		return "", err
	}
	a, err := Detect(names)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// listKeys writes up to maxListed keys and how many more there are.
func listKeys(keys []string) string {
	if len(keys) == 0 {
		return "nothing"
	}
	if len(keys) <= maxListed {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:maxListed], ", "), len(keys)-maxListed)
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// IsMambaOut reports whether the checkpoint at path is a MambaOut one, for
// the commands that route it: a state dict of neither architecture is an
// ErrNotDetected error; a file that cannot be read gives false and no
// error, so that the Vim loader reads it again and reports the problem the
// way it does for any checkpoint.
func IsMambaOut(path string, weights convert.Weights) (bool, error) {
	a, err := DetectFile(path, weights)
	if errors.Is(err, ErrNotDetected) {
		return false, err
	}
	return err == nil && a == MambaOut, nil
}
