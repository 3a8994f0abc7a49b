package ops

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// Domain is the ONNX domain of every op of the plugin.
const Domain = "ai.vimconvert"

// Attribute is one attribute an op of the plugin takes.
type Attribute struct {
	Name string
	Type onnxpb.AttributeProto_AttributeType
}

// OpAttributes lists, for each op of the plugin, every attribute it takes
// (ops/README.md has their meaning). ONNX Runtime's C API lets a custom op
// read an attribute by name but not list a node's attributes (no call in
// API 17 to 29 does, and ORT registers custom ops with unchecked
// attributes), so the plugin cannot see a misspelt one such as
// dividee_out; CheckAttributes refuses those from this table before a
// session is made. TestOpAttributesMatchPlugin keeps it in step with the C
// sources.
var OpAttributes = map[string][]Attribute{
	"SelectiveScanBidirectional":    {{"divide_out", onnxpb.AttributeProto_INT}},
	"SelectiveScan":                 nil,
	"CausalConv1dSiLUBidirectional": nil,
}

// ErrBadAttribute is wrapped by every error of CheckAttributes about a
// node's attributes (as opposed to a malformed file).
var ErrBadAttribute = errors.New("ops: attribute the plugin does not understand")

var errMalformed = errors.New("ops: malformed ONNX protobuf")

// Field numbers of onnx.proto (IR 8) that CheckAttributes reads.
const (
	fieldModelGraph      = 7  // ModelProto.graph
	fieldModelFunctions  = 25 // ModelProto.functions
	fieldGraphNode       = 1  // GraphProto.node
	fieldGraphName       = 2  // GraphProto.name
	fieldFunctionNode    = 7  // FunctionProto.node
	fieldFunctionName    = 1  // FunctionProto.name
	fieldNodeName        = 3  // NodeProto.name
	fieldNodeOpType      = 4  // NodeProto.op_type
	fieldNodeAttribute   = 5  // NodeProto.attribute
	fieldNodeDomain      = 7  // NodeProto.domain
	fieldAttrName        = 1  // AttributeProto.name
	fieldAttrGraph       = 6  // AttributeProto.g
	fieldAttrGraphs      = 11 // AttributeProto.graphs
	fieldAttrType        = 20 // AttributeProto.type
	fieldAttrRefAttrName = 21 // AttributeProto.ref_attr_name
	maxSubgraphDepth     = 64
)

// CheckAttributes checks the attributes of every node of Domain in a
// serialized ONNX ModelProto (main graph, subgraphs of control-flow nodes,
// and model-local functions) against OpAttributes. It refuses, naming the
// node, op and attribute: an attribute the op does not take, one of
// another type, one given twice, one without a type, and one that refers to
// a function attribute (ref_attr_name) outside a function body, where
// ONNX Runtime would read it as 0. It returns nil for a model without
// plugin ops. Values (e.g. divide_out in {0, 1}) are checked by the plugin.
func CheckAttributes(model []byte) error {
	return eachField(model, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldModelGraph:
			return checkGraph(v, "graph", false, 0)
		case fieldModelFunctions:
			return checkFunction(v)
		}
		return nil
	})
}

// checkGraph checks the nodes of a GraphProto; where names it for messages.
func checkGraph(g []byte, where string, inFunction bool, depth int) error {
	if depth > maxSubgraphDepth {
		return fmt.Errorf("%w: subgraphs nested deeper than %d", errMalformed, maxSubgraphDepth)
	}
	if name := stringField(g, fieldGraphName); name != "" {
		where += fmt.Sprintf(" %q", name)
	}
	index := 0
	return eachField(g, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != fieldGraphNode || typ != protowire.BytesType {
			return nil
		}
		index++
		return checkNode(v, fmt.Sprintf("%s node %d", where, index-1), inFunction, depth)
	})
}

func checkFunction(f []byte) error {
	where := fmt.Sprintf("function %q", stringField(f, fieldFunctionName))
	index := 0
	return eachField(f, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != fieldFunctionNode || typ != protowire.BytesType {
			return nil
		}
		index++
		return checkNode(v, fmt.Sprintf("%s node %d", where, index-1), true, 0)
	})
}

// checkNode checks one NodeProto of Domain and recurses into the subgraphs
// held by any node's attributes.
func checkNode(n []byte, where string, inFunction bool, depth int) error {
	var opType, domain, name string
	var attrs [][]byte
	err := eachField(n, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldNodeOpType:
			opType = string(v)
		case fieldNodeDomain:
			domain = string(v)
		case fieldNodeName:
			name = string(v)
		case fieldNodeAttribute:
			attrs = append(attrs, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if name != "" {
		where += fmt.Sprintf(" %q", name)
	}
	for _, a := range attrs {
		if err := checkSubgraphs(a, where, inFunction, depth); err != nil {
			return err
		}
	}
	if domain != Domain {
		return nil
	}
	want, ok := OpAttributes[opType]
	if !ok {
		return fmt.Errorf("%w: %s: %s has no op %q (it has %s)", ErrBadAttribute, where, Domain, opType,
			strings.Join(slices.Sorted(maps.Keys(OpAttributes)), ", "))
	}
	where += " (" + opType + ")"
	seen := map[string]bool{}
	for _, a := range attrs {
		if err := checkAttribute(a, where, want, inFunction, seen); err != nil {
			return err
		}
	}
	return nil
}

// checkAttribute checks one AttributeProto of a plugin node against want.
func checkAttribute(a []byte, where string, want []Attribute, inFunction bool, seen map[string]bool) error {
	name := stringField(a, fieldAttrName)
	ref := stringField(a, fieldAttrRefAttrName)
	typ := onnxpb.AttributeProto_AttributeType(varintField(a, fieldAttrType))
	i := slices.IndexFunc(want, func(w Attribute) bool { return w.Name == name })
	switch {
	case i < 0:
		return fmt.Errorf("%w: %s: unknown attribute %q (the op takes %s)", ErrBadAttribute, where, name,
			describe(want))
	case seen[name]:
		return fmt.Errorf("%w: %s: attribute %s given twice", ErrBadAttribute, where, name)
	case typ == onnxpb.AttributeProto_UNDEFINED:
		return fmt.Errorf("%w: %s: attribute %s has no type, want %s", ErrBadAttribute, where, name, want[i].Type)
	case typ != want[i].Type:
		return fmt.Errorf("%w: %s: attribute %s is %s, want %s", ErrBadAttribute, where, name, typ, want[i].Type)
	case ref != "" && !inFunction:
		return fmt.Errorf("%w: %s: attribute %s refers to function attribute %q (ref_attr_name), "+
			"which only a function body may do; ONNX Runtime would read it as 0", ErrBadAttribute, where, name, ref)
	}
	seen[name] = true
	return nil
}

// checkSubgraphs checks the graphs an attribute holds (If/Loop/Scan bodies).
func checkSubgraphs(a []byte, where string, inFunction bool, depth int) error {
	return eachField(a, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType || (num != fieldAttrGraph && num != fieldAttrGraphs) {
			return nil
		}
		return checkGraph(v, where+" attribute "+stringField(a, fieldAttrName)+" graph", inFunction, depth+1)
	})
}

func describe(want []Attribute) string {
	if len(want) == 0 {
		return "no attributes"
	}
	var parts []string
	for _, w := range want {
		parts = append(parts, fmt.Sprintf("%s (%s)", w.Name, w.Type))
	}
	return strings.Join(parts, ", ")
}

// eachField calls f with every field of the message b: a bytes field's
// contents in v, a varint's value in x. It stops at f's first error.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// stringField returns the last value of bytes field num of b ("" if none;
// malformed input is reported by the eachField walk that found b).
func stringField(b []byte, num protowire.Number) string {
	var s string
	_ = eachField(b, func(n protowire.Number, t protowire.Type, v []byte, _ uint64) error {
		if n == num && t == protowire.BytesType {
			s = string(v)
		}
		return nil
	})
	return s
}

// varintField returns the last value of varint field num of b (0 if none).
func varintField(b []byte, num protowire.Number) uint64 {
	var x uint64
	_ = eachField(b, func(n protowire.Number, t protowire.Type, _ []byte, v uint64) error {
		if n == num && t == protowire.VarintType {
			x = v
		}
		return nil
	})
	return x
}
