// Package fixturetest loads the golden fixture directories (checkpoint.pth,
// input.pth, expected.pth written by the official code) and builds
// random-weight models for the tests and benchmarks of several packages.
// It imports package convert, so convert's own internal tests cannot use
// it (they use internal/testutil).
package fixturetest

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// Shared returns the directory ../shared/fixtures/<elem...>, skipping tb
// when the shared golden data is not checked out.
func Shared(tb testing.TB, elem ...string) string {
	tb.Helper()
	dir := repo.SharedFixture(elem...)
	if dir == "" {
		tb.Skipf("shared fixture %s absent (../shared/fixtures not checked out)", strings.Join(elem, "/"))
	}
	return dir
}

// Input returns the input batch x [B, 3, H, W] of dir/input.pth.
func Input(tb testing.TB, dir string) *convert.Tensor {
	tb.Helper()
	in, err := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
	if err != nil {
		tb.Fatal(err)
	}
	x, ok := in["x"]
	if !ok {
		tb.Fatalf("%s/input.pth has no tensor x", dir)
	}
	return x
}

// Expected returns the official outputs of dir/expected.pth by name.
func Expected(tb testing.TB, dir string) map[string]*convert.Tensor {
	tb.Helper()
	exp, err := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
	if err != nil {
		tb.Fatal(err)
	}
	return exp
}

// Vim loads dir/checkpoint.pth as a Vim model with default options.
func Vim(tb testing.TB, dir string) *convert.Model {
	tb.Helper()
	m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Golden is one golden fixture directory, loaded: the model (of type M),
// the input batch X [B, 3, H, W] of input.pth and the official outputs of
// expected.pth by name.
type Golden[M any] struct {
	Model M
	X     *convert.Tensor
	Exp   map[string]*convert.Tensor
}

// LoadMambaOut loads the shared fixture mambaout/<name> (checkpoint with
// default options), skipping tb when the shared data is absent.
func LoadMambaOut(tb testing.TB, name string) Golden[*mambaout.Model] {
	tb.Helper()
	dir := Shared(tb, "mambaout", name)
	m, _, err := mambaout.Load(filepath.Join(dir, "checkpoint.pth"), mambaout.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return Golden[*mambaout.Model]{Model: m, X: Input(tb, dir), Exp: Expected(tb, dir)}
}

// RandomMambaOut returns a MambaOut of configuration c whose weights are
// drawn from N(0, 0.05²) by r: for timing, where the cost does not depend
// on the values.
func RandomMambaOut(tb testing.TB, c mambaout.Config, r *rand.Rand) *mambaout.Model {
	tb.Helper()
	sd := map[string]*convert.Tensor{}
	for _, ts := range mambaout.Schema(&c) {
		t := &convert.Tensor{Name: ts.Name, Shape: ts.Shape, DType: "float32"}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(r.NormFloat64() * 0.05)
		}
		sd[ts.Name] = t
	}
	m, err := mambaout.FromStateDict(sd)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// RandomImage returns n values drawn from N(0, 1) by r (a normalised image
// batch for timing).
func RandomImage(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}
