package convert

import "strings"

// DDPPrefix is the prefix DistributedDataParallel puts on every key of a
// state dict it saved; the loaders strip it when every key carries it.
const DDPPrefix = "module."

// KeySet returns the state-dict names as a set, with DDPPrefix removed
// when every name carries it (as the loaders strip it). Architecture
// detection (DetectVim, mambaout.Detect) looks its signature keys up here.
func KeySet(names []string) map[string]bool {
	prefix := commonDDPPrefix(names)
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.TrimPrefix(n, prefix)] = true
	}
	return set
}

// commonDDPPrefix returns DDPPrefix when every name carries it, else "":
// the prefix the loaders strip.
func commonDDPPrefix(names []string) string {
	for _, n := range names {
		if !strings.HasPrefix(n, DDPPrefix) {
			return ""
		}
	}
	return DDPPrefix
}
