// Package onnxfile reads .onnx files into the generated onnxpb types: the
// one reader of the module (package graph reads exported models back with
// it, package runtime reads a model's inputs and outputs with it). It knows
// the ONNX format only, not the vimconvert metadata or tensor names.
package onnxfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/x448/float16"
	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// Ext is the file extension of an ONNX model.
const Ext = ".onnx"

// IsModelPath reports whether path names an ONNX model by its extension
// (Ext, in any case): the module's one test of "an exported model, not a
// checkpoint" for a path given on the command line or to an API.
func IsModelPath(path string) bool { return strings.EqualFold(filepath.Ext(path), Ext) }

// Stem is the base name of path without its Ext (in any case), e.g. the
// default name of a model written to dir/vim_t.onnx is "vim_t"; a name
// with another extension is returned whole.
func Stem(path string) string {
	base := filepath.Base(path)
	if IsModelPath(base) {
		return base[:len(base)-len(Ext)]
	}
	return base
}

// ErrModelMissing is returned (wrapped, with the path) by ReadFile and Read
// when the .onnx file does not exist.
var ErrModelMissing = errors.New("ONNX model not found")

// ReadFile parses a whole .onnx file (metadata, outputs and initializers).
// A missing file gives an error wrapping ErrModelMissing and the system's
// own error (os.ErrNotExist); a file that is no ONNX model, or has no
// graph, is refused with its path in the message.
func ReadFile(path string) (*onnxpb.ModelProto, error) {
	_, mp, err := Read(path)
	return mp, err
}

// Read is ReadFile that also returns the file's bytes, for a caller that
// hands them on (ONNX Runtime parses the model itself).
func Read(path string) ([]byte, *onnxpb.ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %w", ErrModelMissing, err)
		}
		return nil, nil, fmt.Errorf("read model: %w", err)
	}
	mp, err := Parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	return data, mp, nil
}

// Parse decodes the bytes of an .onnx file; name is the file name used in
// error messages.
func Parse(name string, data []byte) (*onnxpb.ModelProto, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("%s is not an ONNX model: %w", name, err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("%s is not an ONNX model: no graph", name)
	}
	return mp, nil
}

// Metadata returns the model's metadata_props as a map (graph.MetaConfig, ...).
func Metadata(mp *onnxpb.ModelProto) map[string]string {
	meta := map[string]string{}
	for _, p := range mp.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	return meta
}

// Initializers returns the model's initializers by name.
func Initializers(mp *onnxpb.ModelProto) map[string]*onnxpb.TensorProto {
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = t
	}
	return inits
}

// ParamCount returns the number of elements of all the model's
// initializers (its parameter count).
func ParamCount(mp *onnxpb.ModelProto) int64 {
	var n int64
	for _, t := range mp.GetGraph().GetInitializer() {
		k := int64(1)
		for _, d := range t.GetDims() {
			k *= d
		}
		n += k
	}
	return n
}

// TensorFromProto decodes a float32 initializer (raw_data little-endian or
// float_data). Any other data type, or a data length that does not match
// the dims, is refused.
func TensorFromProto(tp *onnxpb.TensorProto) (*convert.Tensor, error) {
	if tp.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("data type %d, want float32", tp.GetDataType())
	}
	return tensorFromProto(tp)
}

// WidenedTensorFromProto is TensorFromProto that also reads a float16 or
// bfloat16 initializer (raw data), widened to float32 exactly; DType names
// the stored type.
func WidenedTensorFromProto(tp *onnxpb.TensorProto) (*convert.Tensor, error) {
	var widen func(uint16) float32
	switch tp.GetDataType() {
	case int32(onnxpb.TensorProto_FLOAT):
		return tensorFromProto(tp)
	case int32(onnxpb.TensorProto_FLOAT16):
		widen = func(h uint16) float32 { return float16.Frombits(h).Float32() }
	case int32(onnxpb.TensorProto_BFLOAT16):
		widen = func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
	default:
		return nil, fmt.Errorf("data type %d, want float32, float16 or bfloat16", tp.GetDataType())
	}
	t, n, err := tensorShape(tp)
	if err != nil {
		return nil, err
	}
	raw := tp.GetRawData()
	if len(raw) != 2*n {
		return nil, fmt.Errorf("%d raw bytes for 16-bit shape %v", len(raw), t.Shape)
	}
	t.DType = StoredDType(tp)
	t.Data = make([]float32, n)
	for i := range t.Data {
		t.Data[i] = widen(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return t, nil
}

// StoredDType names an initializer's element type as torch and numpy do
// (float32, float16, bfloat16, ...).
func StoredDType(tp *onnxpb.TensorProto) string {
	if tp.GetDataType() == int32(onnxpb.TensorProto_FLOAT) {
		return "float32"
	}
	return strings.ToLower(onnxpb.TensorProto_DataType(tp.GetDataType()).String())
}

// tensorShape returns a float32 tensor of tp's name and shape without data,
// and its element count.
func tensorShape(tp *onnxpb.TensorProto) (*convert.Tensor, int, error) {
	t := &convert.Tensor{Name: tp.GetName(), DType: "float32"}
	n := 1
	for _, d := range tp.GetDims() {
		if d < 0 || (d > 0 && n > math.MaxInt32/int(d)) {
			return nil, 0, fmt.Errorf("dims %v out of range", tp.GetDims())
		}
		t.Shape = append(t.Shape, int(d))
		n *= int(d)
	}
	return t, n, nil
}

// tensorFromProto reads a float32 initializer (raw or float_data).
func tensorFromProto(tp *onnxpb.TensorProto) (*convert.Tensor, error) {
	t, n, err := tensorShape(tp)
	if err != nil {
		return nil, err
	}
	switch {
	case len(tp.GetRawData()) == 4*n:
		raw := tp.GetRawData()
		t.Data = make([]float32, n)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case len(tp.GetFloatData()) == n:
		t.Data = append([]float32(nil), tp.GetFloatData()...)
	default:
		return nil, fmt.Errorf("%d raw bytes / %d floats for shape %v", len(tp.GetRawData()), len(tp.GetFloatData()), t.Shape)
	}
	return t, nil
}
