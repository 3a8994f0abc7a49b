// Package torchfile reads files written by torch.save (the zip archive of
// PyTorch 1.6+ and the legacy stream) without Python and without trusting
// them: a strict pickle machine whose globals resolve only through an
// allow-list and never execute anything, lengths checked before every
// allocation, and a read budget proportional to the file size. It returns
// the unpickled object (Dict, Object, TensorRef and plain Go values) and
// converts float tensors on request.
//
// It knows nothing about Vim or any model: choosing a weight set and
// mapping tensor names belong to package convert. It must not print,
// parse flags or panic on any input.
package torchfile

import "fmt"

// Tensor is a dense float32 tensor in row-major (C) order.
//
// DType records the storage dtype found in the file ("float32",
// "float16", "bfloat16", "float64"); Data is always converted to float32.
// For float64 storages F64 additionally holds the full-precision values
// (same length and order as Data); it is nil for every other dtype.
type Tensor struct {
	Name  string // the dict key it was stored under (state-dict key)
	Shape []int
	DType string
	Data  []float32
	F64   []float64 // float64 storages only: the exact values; else nil
}

// NumElements returns the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Format returns the container format of f: "zip" or "legacy".
func (f *File) Format() string { return f.format }

// Len returns the number of entries of d.
func (d *Dict) Len() int { return len(d.keys) }

// Key returns the key of entry i (insertion order): a string, int64,
// bool, float64 or nil.
func (d *Dict) Key(i int) any { return d.keys[i] }

// Value returns the value of entry i (insertion order).
func (d *Dict) Value(i int) any { return d.values[i] }

// Get returns the value stored under the string key, if any.
func (d *Dict) Get(key string) (any, bool) { return d.get(key) }

// Attr returns attribute name of o (set by the pickle's BUILD), if any.
func (o *Object) Attr(name string) (any, bool) {
	if o.attrs == nil {
		return nil, false
	}
	return o.attrs.get(name)
}

// Materialize converts the tensor view to a float32 Tensor named name,
// reading its storage (within the file's budgets) on first use.
func (t *TensorRef) Materialize(name string) (*Tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor %s: nil tensor reference", name)
	}
	return t.materialize(name)
}

// Ints returns the items of v when it is a Python list or tuple of ints
// (an argparse value such as timm's args.input_size [3, 224, 224]).
func Ints(v any) ([]int64, bool) {
	items, err := sequenceItems(v, nil)
	if err != nil {
		return nil, false
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// Class returns the qualified class name of o (e.g. argparse.Namespace).
func (o *Object) Class() string { return o.class }

// NumAttrs returns how many attributes o has.
func (o *Object) NumAttrs() int {
	if o.attrs == nil {
		return 0
	}
	return o.attrs.Len()
}

// HasState reports whether d's pickled BUILD state set the attribute name
// (OrderedDict._metadata of a state dict, for one).
func (d *Dict) HasState(name string) bool {
	_, ok := d.attrs[name]
	return ok
}
