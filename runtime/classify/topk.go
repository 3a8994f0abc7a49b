package classify

import (
	"math"
	"sort"
)

// Prediction is one class of a Result: its index in the head, its name
// (empty when the model has no class names) and its softmax probability.
type Prediction struct {
	Index int     `json:"index"`
	Label string  `json:"label,omitempty"`
	Prob  float64 `json:"prob"`
}

// TopK returns the k most probable classes of one row of logits, most
// probable first (ties: lower index first), with softmax probabilities
// computed in float64. labels, when not nil, names the classes.
func TopK(logits []float32, k int, labels []string) []Prediction {
	if len(logits) == 0 || k <= 0 {
		return nil
	}
	maxv := math.Inf(-1)
	for _, v := range logits {
		maxv = math.Max(maxv, float64(v))
	}
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v) - maxv)
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	k = min(k, len(logits))
	out := make([]Prediction, k)
	for i, c := range idx[:k] {
		out[i] = Prediction{Index: c, Prob: math.Exp(float64(logits[c])-maxv) / sum}
		if labels != nil {
			out[i].Label = labels[c]
		}
	}
	return out
}
