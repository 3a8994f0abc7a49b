package convert

import "strings"

// DDPPrefix is the prefix DistributedDataParallel puts on every key of a
// state dict it saved; the loaders strip it when every key carries it.
const DDPPrefix = "module."

// KeySet returns the state-dict names as a set, with DDPPrefix removed
// when every name carries it (as the loaders strip it). Architecture
// detection (DetectVim, mambaout.Detect) looks its signature keys up here.
func KeySet(names []string) map[string]bool {
	prefixed := 0
	for _, n := range names {
		if strings.HasPrefix(n, DDPPrefix) {
			prefixed++
		}
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		if prefixed == len(names) {
			n = strings.TrimPrefix(n, DDPPrefix)
		}
		set[n] = true
	}
	return set
}
