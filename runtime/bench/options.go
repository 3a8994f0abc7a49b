package bench

import (
	"fmt"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/runtime"
)

// ParseList parses a comma-separated list of positive integers (blanks
// ignored); name, the option it came from, is used in errors. An empty
// list is an error unless allowEmpty.
func ParseList(name, s string, allowEmpty bool) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("--%s: %q is not a positive integer", name, p)
		}
		out = append(out, v)
	}
	if len(out) == 0 && !allowEmpty {
		return nil, fmt.Errorf("--%s: empty list", name)
	}
	return out, nil
}

// ParseVariants parses a comma-separated list of AllVariants names.
func ParseVariants(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		known := false
		for _, a := range AllVariants {
			known = known || a == v
		}
		if !known {
			return nil, fmt.Errorf("--variants: unknown %q (have %s)", v, strings.Join(AllVariants, ", "))
		}
		out[v] = true
	}
	return out, nil
}

// Check refuses options that cannot be measured, before any model is
// read: batches above runtime.MaxBatch, thread counts above
// runtime.MaxThreads, nothing to measure, runs or rounds below 1, a
// negative warm-up and an unknown weight set.
func (o Options) Check() error {
	for _, b := range o.Batches {
		if b > runtime.MaxBatch {
			return fmt.Errorf("--batch %d: want at most %d", b, runtime.MaxBatch)
		}
	}
	for _, t := range o.Threads {
		if t > runtime.MaxThreads() {
			return fmt.Errorf("--threads %d: want at most %d (max(64, 4 × %d CPUs))", t, runtime.MaxThreads(), goruntime.NumCPU())
		}
	}
	if _, err := convert.ParseWeights(string(o.Weights)); err != nil || o.Weights == "" {
		return fmt.Errorf("--weights %q: want model or model_ema", o.Weights)
	}
	switch {
	case len(o.Variants) == 0:
		return fmt.Errorf("--variants: nothing to measure")
	case o.Runs < 1 || o.Warmup < 0 || o.Rounds < 1:
		return fmt.Errorf("--runs and --rounds must be ≥ 1 and --warmup ≥ 0")
	}
	return nil
}
