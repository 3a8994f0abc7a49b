package convert

import (
	"fmt"
	"sort"
	"strings"
)

// MismatchSummary describes what a name table could not map from a state
// dict, as "missing N: a, b; unexpected N: …; wrong shape N: …" (empty
// groups left out, each group sorted and cut to 20 names). It sorts
// missing and unexpected in place. Every architecture's mapping error
// (Vim's NewModel, mambaout.FromStateDict) ends with it.
func MismatchSummary(missing, unexpected, badShape []string) string {
	sort.Strings(missing)
	sort.Strings(unexpected)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing %d: %s", len(missing), listSome(missing)))
	}
	if len(unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("unexpected %d: %s", len(unexpected), listSome(unexpected)))
	}
	if len(badShape) > 0 {
		parts = append(parts, fmt.Sprintf("wrong shape %d: %s", len(badShape), listSome(badShape)))
	}
	return strings.Join(parts, "; ")
}
