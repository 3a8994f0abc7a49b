package bench

import (
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph/graphtest"
)

// TestRunRefusesOptions checks that Run refuses, before building or timing
// anything, the options it cannot measure (the library refuses them, not
// only the command's flag parsing).
func TestRunRefusesOptions(t *testing.T) {
	good := func() Options {
		return Options{Source: "m.pth", Model: graphtest.Model(graphtest.Spec{Seed: 1}), Batches: []int{1}, Threads: []int{1},
			Variants: map[string]bool{VariantPlugin: true}, Runs: 1, Rounds: 1, Worker: []string{"/bin/false"}}
	}
	if o := good(); o.check() != nil {
		t.Fatalf("the base options are refused: %v", o.check())
	}
	cases := []struct {
		reason string
		edit   func(*Options)
		want   string
	}{
		{"no model to measure", func(o *Options) { o.Model = nil }, "no model"},
		{"an empty grid measures nothing", func(o *Options) { o.Threads = nil }, "no batch size or thread count"},
		{"no variant", func(o *Options) { o.Variants = map[string]bool{} }, "no variant"},
		{"a variant Run does not know", func(o *Options) { o.Variants["gpu"] = true }, `unknown variant "gpu"`},
		{"zero timed runs", func(o *Options) { o.Runs = 0 }, "must be ≥ 1"},
		{"a zero batch", func(o *Options) { o.Batches = []int{0} }, "must be positive"},
		{"no way to start a worker process", func(o *Options) { o.Worker = nil }, "no worker command"},
	}
	for _, tc := range cases {
		o := good()
		tc.edit(&o)
		if _, err := Run(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Run = %v, want an error containing %q", tc.reason, err, tc.want)
		}
	}
}
