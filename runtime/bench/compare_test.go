package bench

import (
	"strings"
	"testing"
)

// TestCompareRefusesOptions checks that Compare refuses, before loading or
// timing anything, what it cannot measure.
func TestCompareRefusesOptions(t *testing.T) {
	good := func() Options {
		return Options{Batches: []int{1}, Threads: []int{1}, Runs: 1, Rounds: 1, Worker: []string{"/bin/false"}}
	}
	cases := []struct {
		reason  string
		sources []string
		edit    func(*Options)
		want    string
	}{
		{"nothing to compare", nil, func(*Options) {}, "no model to compare"},
		{"an empty grid measures nothing", []string{"a.onnx"}, func(o *Options) { o.Batches = nil }, "no batch size or thread count"},
		{"zero timed runs", []string{"a.onnx"}, func(o *Options) { o.Runs = 0 }, "must be ≥ 1"},
		{"no way to start a worker process", []string{"a.onnx"}, func(o *Options) { o.Worker = nil }, "no worker command"},
		{"a missing model is named", []string{"/nonexistent/a.onnx"}, func(*Options) {}, "/nonexistent/a.onnx"},
	}
	for _, tc := range cases {
		o := good()
		tc.edit(&o)
		if _, err := Compare(tc.sources, o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Compare = %v, want an error containing %q", tc.reason, err, tc.want)
		}
	}
}
