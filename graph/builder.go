package graph

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// Batch marks the symbolic batch dimension in a shape. It is written to the
// model as dim_param "batch"; every other dimension is concrete, except in
// a dynamic-size model (the markers of dynamic.go).
const Batch int64 = -1

// BatchDimName is the dim_param of the symbolic batch dimension.
const BatchDimName = "batch"

// builder accumulates the nodes, initializers and value_info of one graph.
//
// Every value it creates has a known element type and shape (with Batch,
// and for a dynamic-size model the markers of dynamic.go, as the symbolic
// dimensions); finish() writes a value_info for each
// intermediate so that the model is fully annotated even across the custom
// scan op, which ONNX shape inference cannot see into.
//
// Errors (a duplicate name, an unknown value) are programming mistakes; the
// first one is kept in err and returned by finish().
type builder struct {
	opset int
	prec  precision // how the 16-bit regions are represented (dtype.go); zero value: float32 model

	nodes        []*onnxpb.NodeProto
	initializers []*onnxpb.TensorProto
	inputs       []*onnxpb.ValueInfoProto
	outputs      []*onnxpb.ValueInfoProto

	values    map[string]valueDesc // every value produced so far
	order     []string             // value names in creation order (for value_info)
	nodeNames map[string]bool
	consts    map[string]string // constant content key -> value name
	isIO      map[string]bool   // graph inputs, outputs and initializers
	err       error
}

// valueDesc is what the builder knows about a value.
type valueDesc struct {
	elem  onnxpb.TensorProto_DataType
	shape []int64
}

func newBuilder(opset int) *builder {
	return &builder{
		opset:     opset,
		values:    map[string]valueDesc{},
		nodeNames: map[string]bool{},
		consts:    map[string]string{},
		isIO:      map[string]bool{},
	}
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

func (b *builder) define(name string, elem onnxpb.TensorProto_DataType, shape []int64) {
	if _, dup := b.values[name]; dup {
		b.fail("graph builder: value %q defined twice", name)
		return
	}
	b.values[name] = valueDesc{elem: elem, shape: append([]int64(nil), shape...)}
	b.order = append(b.order, name)
}

// shape returns the recorded shape of a value.
func (b *builder) shape(name string) []int64 {
	v, ok := b.values[name]
	if !ok {
		b.fail("graph builder: unknown value %q", name)
		return nil
	}
	return v.shape
}

// input declares a float32 graph input.
func (b *builder) input(name string, shape []int64) string {
	b.define(name, onnxpb.TensorProto_FLOAT, shape)
	b.isIO[name] = true
	b.inputs = append(b.inputs, valueInfo(name, onnxpb.TensorProto_FLOAT, shape))
	return name
}

// output exposes value under the graph output name via an Identity node
// (the internal value keeps its readable name; ORT removes the copy).
func (b *builder) output(name, value string) {
	v, ok := b.values[value]
	if !ok {
		b.fail("graph builder: output %q: unknown value %q", name, value)
		return
	}
	b.node("Identity", "output/"+name, []string{value}, []string{name}, [][]int64{v.shape})
	b.isIO[name] = true
	b.outputs = append(b.outputs, valueInfo(name, v.elem, v.shape))
}

// initializer adds an official checkpoint tensor under its state-dict name
// (float32, little-endian raw data, shape as in PyTorch).
func (b *builder) initializer(t *convert.Tensor) string {
	if t == nil {
		b.fail("graph builder: nil tensor")
		return ""
	}
	if _, ok := b.values[t.Name]; ok {
		b.fail("graph builder: tensor name %q used twice", t.Name)
		return t.Name
	}
	shape := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		shape[i] = int64(d)
	}
	if len(t.Data) != t.NumElements() {
		b.fail("tensor %s: %d values for shape %v", t.Name, len(t.Data), t.Shape)
		return t.Name
	}
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	b.define(t.Name, onnxpb.TensorProto_FLOAT, shape)
	b.isIO[t.Name] = true
	b.initializers = append(b.initializers, &onnxpb.TensorProto{
		Name:     proto.String(t.Name),
		Dims:     shape,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		RawData:  raw,
	})
	return t.Name
}

// node appends a node whose outputs have the given shapes and the element
// type of its first input (float32 when it has none).
func (b *builder) node(op, name string, inputs, outputs []string, shapes [][]int64, attrs ...*onnxpb.AttributeProto) {
	b.nodeIn("", op, name, inputs, outputs, shapes, attrs...)
}

// nodeIn is node with an operator domain ("" = the default ONNX domain).
func (b *builder) nodeIn(domain, op, name string, inputs, outputs []string, shapes [][]int64, attrs ...*onnxpb.AttributeProto) {
	elem := onnxpb.TensorProto_FLOAT
	if len(inputs) > 0 {
		if v, ok := b.values[inputs[0]]; ok {
			elem = v.elem
		}
	}
	b.addNode(domain, op, name, inputs, outputs, elem, shapes, attrs)
}

// addNode appends a node; its outputs get element type elem and the given shapes.
func (b *builder) addNode(domain, op, name string, inputs, outputs []string, elem onnxpb.TensorProto_DataType, shapes [][]int64, attrs []*onnxpb.AttributeProto) {
	if b.nodeNames[name] {
		b.fail("graph builder: node name %q used twice", name)
		return
	}
	b.nodeNames[name] = true
	for _, in := range inputs {
		if in == "" {
			continue // omitted optional input
		}
		if _, ok := b.values[in]; !ok {
			b.fail("graph builder: node %q: unknown input %q", name, in)
			return
		}
	}
	if len(shapes) != len(outputs) {
		b.fail("graph builder: node %q: %d outputs, %d shapes", name, len(outputs), len(shapes))
		return
	}
	for i, out := range outputs {
		b.define(out, elem, shapes[i])
	}
	n := &onnxpb.NodeProto{
		Name:      proto.String(name),
		OpType:    proto.String(op),
		Input:     inputs,
		Output:    outputs,
		Attribute: attrs,
	}
	if domain != "" {
		n.Domain = proto.String(domain)
	}
	b.nodes = append(b.nodes, n)
}

// op1 appends a single-output node whose output value is named like the node.
func (b *builder) op1(op, name string, inputs []string, shape []int64, attrs ...*onnxpb.AttributeProto) string {
	b.node(op, name, inputs, []string{name}, [][]int64{shape}, attrs...)
	return name
}

// constF32 returns a float32 Constant (shape dims, row-major values),
// deduplicated by content.
func (b *builder) constF32(dims []int64, vals ...float32) string {
	key := fmt.Sprintf("f32%v%v", dims, vals)
	if name, ok := b.consts[key]; ok {
		return name
	}
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	name := fmt.Sprintf("const/f32_%s", constLabel(dims, len(b.consts)))
	t := &onnxpb.TensorProto{Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
	b.node("Constant", name, nil, []string{name}, [][]int64{dims}, attrTensor("value", t))
	b.consts[key] = name
	return name
}

// constI64 returns an int64 Constant (a 1-D tensor, or a scalar when scalar
// is true), deduplicated by content.
func (b *builder) constI64(scalar bool, vals ...int64) string {
	key := fmt.Sprintf("i64%v%v", scalar, vals)
	if name, ok := b.consts[key]; ok {
		return name
	}
	var dims []int64
	if !scalar {
		dims = []int64{int64(len(vals))}
	} else if len(vals) != 1 {
		b.fail("graph builder: scalar constant with %d values", len(vals))
		return ""
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strings.ReplaceAll(fmt.Sprint(v), "-", "m")
	}
	label := strings.Join(parts, "_")
	if len(label) > 40 {
		label = fmt.Sprintf("n%d", len(b.consts))
	}
	name := "const/i64_" + label
	if scalar {
		name = "const/i64s_" + label
	}
	t := &onnxpb.TensorProto{Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals}
	b.addNode("", "Constant", name, nil, []string{name}, onnxpb.TensorProto_INT64, [][]int64{dims},
		[]*onnxpb.AttributeProto{attrTensor("value", t)})
	b.consts[key] = name
	return name
}

func constLabel(dims []int64, n int) string {
	return fmt.Sprintf("%d_%s", n, strings.Trim(strings.ReplaceAll(fmt.Sprint(dims), " ", "x"), "[]"))
}

// finish assembles the GraphProto with a value_info for every intermediate.
func (b *builder) finish(name, doc string) (*onnxpb.GraphProto, error) {
	if b.err != nil {
		return nil, b.err
	}
	g := &onnxpb.GraphProto{
		Name:        proto.String(name),
		DocString:   proto.String(doc),
		Node:        b.nodes,
		Initializer: b.initializers,
		Input:       b.inputs,
		Output:      b.outputs,
	}
	for _, v := range b.order {
		if b.isIO[v] {
			continue
		}
		d := b.values[v]
		g.ValueInfo = append(g.ValueInfo, valueInfo(v, d.elem, d.shape))
	}
	return g, nil
}

func valueInfo(name string, elem onnxpb.TensorProto_DataType, shape []int64) *onnxpb.ValueInfoProto {
	dims := make([]*onnxpb.TensorShapeProto_Dimension, len(shape))
	for i, d := range shape {
		if p, ok := SymbolicDimNames[d]; ok && d < 0 {
			dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: p}}
		} else if d < 0 {
			dims[i] = &onnxpb.TensorShapeProto_Dimension{} // Unnamed: unknown, no name
		} else {
			dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(elem)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}
