package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// RelEps is the denominator guard of the relative error |e-a|/(|e|+RelEps).
const RelEps = 1e-7

// HistBin counts the absolute errors |e-a| that fall in [Lo, Hi).
// The first bin (Lo = Hi = 0) counts exact matches; a bin with Hi = +Inf
// collects errors of 10 and more; NonFinite in Report counts NaN/Inf errors.
type HistBin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count int     `json:"count"`
}

// histEdges are the upper edges of the log10 bins after the exact-zero bin:
// (0,1e-9), [1e-9,1e-8), ..., [1,10), [10,+Inf).
var histEdges = []float64{1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, math.Inf(1)}

// Report compares an expected tensor (the reference) with an actual one
// (the model under test) element by element.
type Report struct {
	// Shape is the tensor shape both sides were compared under; N its size.
	Shape []int `json:"shape"`
	N     int   `json:"n"`
	// Mismatch is non-empty when the two sides could not be compared
	// element-wise (different lengths, or a shape that does not fit);
	// such a report never passes.
	Mismatch string `json:"mismatch,omitempty"`

	MaxAbs  float64 `json:"max_abs"`  // max |e-a|
	MaxRel  float64 `json:"max_rel"`  // max |e-a|/(|e|+RelEps)
	MeanAbs float64 `json:"mean_abs"` // mean |e-a| over finite errors
	// Cosine is the cosine similarity of the two tensors as flat vectors
	// (1 when both are all zeros, 0 when exactly one is).
	Cosine float64 `json:"cosine"`

	// Top-1 agreement per row over the last dimension (argmax, first index
	// on ties): Top1Agree of Top1Rows rows have the same argmax.
	// FirstTop1Diff is the first disagreeing row, -1 when none.
	Top1Rows      int `json:"top1_rows"`
	Top1Agree     int `json:"top1_agree"`
	FirstTop1Diff int `json:"first_top1_diff"`
	// Top1DiffMargin is, over the disagreeing rows, the largest amount by
	// which the expected row prefers its own top class to the one the
	// actual side picked (0 when every row agrees): a disagreement with a
	// margin within the tolerance is a near-tie, not a wrong class.
	Top1DiffMargin float64 `json:"top1_diff_margin"`

	// The element with the largest |e-a| (the first such on ties): its flat
	// index, its coordinates in Shape and the two values there. Index is -1
	// when N is 0.
	WorstIndex    int     `json:"worst_index"`
	WorstCoord    []int   `json:"worst_coord"`
	WorstExpected float64 `json:"worst_expected"`
	WorstActual   float64 `json:"worst_actual"`

	// NonFinite counts elements whose error is NaN or Inf (one side NaN/Inf
	// while the other is not, or infinities of opposite sign). Two NaNs or
	// two equal infinities count as a match.
	NonFinite int `json:"non_finite"`
	// Hist is the histogram of |e-a| over log10 bins, exact matches first.
	Hist []HistBin `json:"hist"`
}

// reportFloat is the element type Compare accepts.
type reportFloat interface{ ~float32 | ~float64 }

// Compare builds the Report for expected vs actual, both row-major with the
// given shape (nil shape = a flat vector of len(expected)). It never panics:
// mismatched lengths are reported in Report.Mismatch.
func Compare[E reportFloat, A reportFloat](expected []E, actual []A, shape []int) Report {
	r := Report{Shape: append([]int(nil), shape...), N: len(expected), WorstIndex: -1, FirstTop1Diff: -1}
	if shape == nil {
		r.Shape = []int{len(expected)}
	}
	n := 1
	for _, d := range r.Shape {
		if d < 0 {
			r.Mismatch = fmt.Sprintf("negative dimension in shape %v", r.Shape)
			return r
		}
		n *= d
	}
	if len(expected) != len(actual) {
		r.Mismatch = fmt.Sprintf("expected has %d values, actual has %d", len(expected), len(actual))
		return r
	}
	if n != len(expected) {
		r.Mismatch = fmt.Sprintf("shape %v holds %d values, got %d", r.Shape, n, len(expected))
		return r
	}
	r.Hist = make([]HistBin, 0, len(histEdges)+1)
	r.Hist = append(r.Hist, HistBin{Lo: 0, Hi: 0})
	lo := 0.0
	for _, hi := range histEdges {
		r.Hist = append(r.Hist, HistBin{Lo: lo, Hi: hi})
		lo = hi
	}

	var dot, ee, aa, sumAbs float64
	finite := 0
	for i := range expected {
		e, a := float64(expected[i]), float64(actual[i])
		var d float64
		switch {
		case e == a || (math.IsNaN(e) && math.IsNaN(a)):
			d = 0
		default:
			d = math.Abs(e - a)
		}
		if math.IsNaN(d) || math.IsInf(d, 0) {
			r.NonFinite++
			if r.WorstIndex < 0 || !math.IsInf(r.MaxAbs, 1) {
				r.MaxAbs, r.MaxRel, r.WorstIndex = math.Inf(1), math.Inf(1), i
			}
			continue
		}
		finite++
		sumAbs += d
		if d > r.MaxAbs || r.WorstIndex < 0 {
			r.MaxAbs, r.WorstIndex = d, i
		}
		if rel := d / (math.Abs(e) + RelEps); rel > r.MaxRel {
			r.MaxRel = rel
		}
		r.Hist[binOf(d)].Count++
		if !math.IsInf(e, 0) && !math.IsNaN(e) {
			dot += e * a
			ee += e * e
			aa += a * a
		}
	}
	if finite > 0 {
		r.MeanAbs = sumAbs / float64(finite)
	}
	switch {
	case ee == 0 && aa == 0:
		r.Cosine = 1
	case ee == 0 || aa == 0:
		r.Cosine = 0
	default:
		r.Cosine = dot / (math.Sqrt(ee) * math.Sqrt(aa))
	}
	if r.WorstIndex >= 0 {
		r.WorstCoord = unravel(r.WorstIndex, r.Shape)
		r.WorstExpected = float64(expected[r.WorstIndex])
		r.WorstActual = float64(actual[r.WorstIndex])
	}
	if last := r.Shape[len(r.Shape)-1:]; len(last) == 1 && last[0] > 0 {
		cols := last[0]
		r.Top1Rows = n / cols
		for row := 0; row < r.Top1Rows; row++ {
			e, a := expected[row*cols:(row+1)*cols], actual[row*cols:(row+1)*cols]
			ie, ia := argmax(e), argmax(a)
			if ie == ia {
				r.Top1Agree++
				continue
			}
			if r.FirstTop1Diff < 0 {
				r.FirstTop1Diff = row
			}
			margin := math.Inf(1) // a NaN row has no margin
			if ie >= 0 && ia >= 0 {
				margin = float64(e[ie]) - float64(e[ia])
			}
			r.Top1DiffMargin = max(r.Top1DiffMargin, margin)
		}
	}
	return r
}

// binOf returns the histogram index of a finite |e-a|.
func binOf(d float64) int {
	if d == 0 {
		return 0
	}
	for i, hi := range histEdges {
		if d < hi {
			return i + 1
		}
	}
	return len(histEdges)
}

// argmax returns the index of the first largest value, or -1 when the row
// holds a NaN (so a NaN row never agrees with a finite one).
func argmax[T reportFloat](v []T) int {
	best := 0
	for i := range v {
		if math.IsNaN(float64(v[i])) {
			return -1
		}
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func unravel(i int, shape []int) []int {
	c := make([]int, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		if shape[k] > 0 {
			c[k] = i % shape[k]
			i /= shape[k]
		}
	}
	return c
}

// Pass reports whether the comparison succeeded with max |e-a| <= tol: the
// two sides had the same size and no element's error is NaN or infinite.
// Top-1 agreement is separate (Top1OK) because it only means something for
// logits.
func (r Report) Pass(tol float64) bool {
	return r.Mismatch == "" && r.NonFinite == 0 && r.MaxAbs <= tol
}

// Top1OK reports whether every row has the same argmax on both sides.
func (r Report) Top1OK() bool {
	return r.Mismatch == "" && r.Top1Agree == r.Top1Rows
}

// WithoutTop1 returns r with no top-1 comparison: for outputs whose last
// dimension is no class (features, tokens, feature maps).
func (r Report) WithoutTop1() Report {
	r.Top1Rows, r.Top1Agree, r.FirstTop1Diff, r.Top1DiffMargin = 0, 0, -1, 0
	return r
}

// Top1Within reports whether every row whose expected top class leads the
// actual side's pick by more than tol has the same argmax on both sides:
// rows closer than tol are near-ties that an error within tol may flip.
func (r Report) Top1Within(tol float64) bool {
	return r.Top1OK() || (r.Mismatch == "" && r.Top1DiffMargin <= tol)
}

// String renders the report as indented human-readable lines.
func (r Report) String() string {
	var b strings.Builder
	if r.Mismatch != "" {
		fmt.Fprintf(&b, "cannot compare: %s\n", r.Mismatch)
		return b.String()
	}
	fmt.Fprintf(&b, "shape %v (%d values)\n", r.Shape, r.N)
	if r.N == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "  max |e-a|   %.3g at %v (expected %.9g, actual %.9g)\n", r.MaxAbs, r.WorstCoord, r.WorstExpected, r.WorstActual)
	fmt.Fprintf(&b, "  max rel     %.3g  (|e-a|/(|e|+%g))\n", r.MaxRel, RelEps)
	fmt.Fprintf(&b, "  mean |e-a|  %.3g\n", r.MeanAbs)
	fmt.Fprintf(&b, "  cosine      %.10f\n", r.Cosine)
	if r.Top1Rows > 0 {
		fmt.Fprintf(&b, "  top-1       %d/%d rows agree", r.Top1Agree, r.Top1Rows)
		if r.FirstTop1Diff >= 0 {
			fmt.Fprintf(&b, " (first disagreement: row %d; largest expected margin over the other pick %.3g)", r.FirstTop1Diff, r.Top1DiffMargin)
		}
		b.WriteString("\n")
	}
	if r.NonFinite > 0 {
		fmt.Fprintf(&b, "  non-finite  %d elements with NaN/Inf error\n", r.NonFinite)
	}
	b.WriteString("  |e-a| histogram:\n")
	for _, h := range r.Hist {
		if h.Count == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %-16s %9d  %5.1f%%\n", binLabel(h), h.Count, 100*float64(h.Count)/float64(r.N))
	}
	return b.String()
}

func binLabel(h HistBin) string {
	switch {
	case h.Hi == 0:
		return "0"
	case h.Lo == 0:
		return fmt.Sprintf("(0, %.0e)", h.Hi)
	case math.IsInf(h.Hi, 1):
		return fmt.Sprintf("[%.0e, inf)", h.Lo)
	}
	return fmt.Sprintf("[%.0e, %.0e)", h.Lo, h.Hi)
}

// jsonFloat writes NaN and ±Inf as the strings "NaN", "+Inf", "-Inf"
// (encoding/json rejects them as numbers).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes, strings "NaN", "+Inf" and
// "-Inf" included.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		switch str {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf", "Inf":
			*f = jsonFloat(math.Inf(1))
		case "-Inf":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("verify: bad number %q in report JSON", str)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// reportJSON mirrors Report with the non-finite-safe float type.
type reportJSON struct {
	Shape         []int         `json:"shape"`
	N             int           `json:"n"`
	Mismatch      string        `json:"mismatch,omitempty"`
	MaxAbs        jsonFloat     `json:"max_abs"`
	MaxRel        jsonFloat     `json:"max_rel"`
	MeanAbs       jsonFloat     `json:"mean_abs"`
	Cosine        jsonFloat     `json:"cosine"`
	Top1Rows      int           `json:"top1_rows"`
	Top1Agree     int           `json:"top1_agree"`
	FirstTop1Diff int           `json:"first_top1_diff"`
	Top1Margin    jsonFloat     `json:"top1_diff_margin"`
	WorstIndex    int           `json:"worst_index"`
	WorstCoord    []int         `json:"worst_coord"`
	WorstExpected jsonFloat     `json:"worst_expected"`
	WorstActual   jsonFloat     `json:"worst_actual"`
	NonFinite     int           `json:"non_finite"`
	Hist          []histBinJSON `json:"hist"`
}

type histBinJSON struct {
	Lo    jsonFloat `json:"lo"`
	Hi    jsonFloat `json:"hi"`
	Count int       `json:"count"`
}

// MarshalJSON encodes the report; non-finite numbers become the strings
// "NaN", "+Inf" and "-Inf" (encoding/json rejects them as numbers).
func (r Report) MarshalJSON() ([]byte, error) {
	j := reportJSON{
		Shape: r.Shape, N: r.N, Mismatch: r.Mismatch,
		MaxAbs: jsonFloat(r.MaxAbs), MaxRel: jsonFloat(r.MaxRel), MeanAbs: jsonFloat(r.MeanAbs), Cosine: jsonFloat(r.Cosine),
		Top1Rows: r.Top1Rows, Top1Agree: r.Top1Agree, FirstTop1Diff: r.FirstTop1Diff, Top1Margin: jsonFloat(r.Top1DiffMargin),
		WorstIndex: r.WorstIndex, WorstCoord: r.WorstCoord,
		WorstExpected: jsonFloat(r.WorstExpected), WorstActual: jsonFloat(r.WorstActual),
		NonFinite: r.NonFinite,
	}
	for _, h := range r.Hist {
		j.Hist = append(j.Hist, histBinJSON{jsonFloat(h.Lo), jsonFloat(h.Hi), h.Count})
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	var j reportJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Report{
		Shape: j.Shape, N: j.N, Mismatch: j.Mismatch,
		MaxAbs: float64(j.MaxAbs), MaxRel: float64(j.MaxRel), MeanAbs: float64(j.MeanAbs), Cosine: float64(j.Cosine),
		Top1Rows: j.Top1Rows, Top1Agree: j.Top1Agree, FirstTop1Diff: j.FirstTop1Diff, Top1DiffMargin: float64(j.Top1Margin),
		WorstIndex: j.WorstIndex, WorstCoord: j.WorstCoord,
		WorstExpected: float64(j.WorstExpected), WorstActual: float64(j.WorstActual),
		NonFinite: j.NonFinite,
	}
	for _, h := range j.Hist {
		r.Hist = append(r.Hist, HistBin{Lo: float64(h.Lo), Hi: float64(h.Hi), Count: h.Count})
	}
	return nil
}
