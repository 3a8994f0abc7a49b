package convert

import (
	"maps"
	"slices"
	"testing"
)

// TestKeySet checks when the DDP prefix is stripped.
func TestKeySet(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  []string
		why   string
	}{
		{[]string{"module.a", "module.b"}, []string{"a", "b"}, "every key prefixed: stripped"},
		{[]string{"module.a", "b"}, []string{"b", "module.a"}, "one key unprefixed: kept as saved"},
		{[]string{"a"}, []string{"a"}, "no prefix"},
		{nil, []string{}, "empty state dict"},
	} {
		got := slices.Sorted(maps.Keys(KeySet(tc.names)))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: KeySet(%q) = %q, want %q", tc.why, tc.names, got, tc.want)
		}
	}
}

// TestMismatchSummary checks the groups, their order and sorting.
func TestMismatchSummary(t *testing.T) {
	for _, tc := range []struct {
		missing, unexpected, badShape []string
		want, why                     string
	}{
		{[]string{"b", "a"}, nil, nil, "missing 2: a, b", "missing only, sorted"},
		{nil, []string{"z", "y"}, []string{"w [1] (want [2])"}, "unexpected 2: y, z; wrong shape 1: w [1] (want [2])", "empty group left out"},
		{[]string{"m"}, []string{"u"}, []string{"s"}, "missing 1: m; unexpected 1: u; wrong shape 1: s", "all three, in order"},
		{nil, nil, nil, "", "nothing wrong"},
	} {
		if got := MismatchSummary(tc.missing, tc.unexpected, tc.badShape); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.why, got, tc.want)
		}
	}
}
