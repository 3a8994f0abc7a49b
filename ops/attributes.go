package ops

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
// (ops/README.md has their meaning). ONNX Runtime registers custom ops with
// unchecked attributes and a kernel cannot list its node's attributes, so
// the plugin checks them through ORT's graph API instead (its attribute
// check, ORT >= 1.23); CheckAttributes applies the same table to a model
// file before any session is made, naming where in the file the node is.
// TestOpAttributesMatchPlugin keeps it equal to the C sources.
var OpAttributes = map[string][]Attribute{
	"SelectiveScanBidirectional":    {{"divide_out", onnxpb.AttributeProto_INT}},
	"SelectiveScan":                 nil,
	"CausalConv1dSiLUBidirectional": nil,
}

// ErrBadAttribute is wrapped by every error of CheckAttributes about a
// node's attributes (as opposed to a malformed file).
var ErrBadAttribute = errors.New("ops: attribute the plugin does not understand")

var errMalformed = errors.New("ops: malformed ONNX protobuf")

// Field numbers of onnx.proto used to reach the nodes without decoding the
// graph's initializers (the weights: most of the file).
const (
	fieldModelGraph     = 7  // ModelProto.graph
	fieldModelFunctions = 25 // ModelProto.functions
	fieldGraphNode      = 1  // GraphProto.node
	fieldGraphName      = 2  // GraphProto.name
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
	return eachBytesField(model, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldModelGraph:
			return checkMainGraph(v)
		case fieldModelFunctions:
			var f onnxpb.FunctionProto
			if err := proto.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("%w: function: %w", errMalformed, err)
			}
			return checkNodes(f.GetNode(), fmt.Sprintf("function %q", f.GetName()), true)
		}
		return nil
	})
}

// checkMainGraph decodes only the nodes and the name of a GraphProto.
func checkMainGraph(g []byte) error {
	var nodes []*onnxpb.NodeProto
	name := ""
	err := eachBytesField(g, func(num protowire.Number, v []byte) error {
		switch num {
		case fieldGraphName:
			name = string(v)
		case fieldGraphNode:
			n := new(onnxpb.NodeProto)
			if err := proto.Unmarshal(v, n); err != nil {
				return fmt.Errorf("%w: node %d: %w", errMalformed, len(nodes), err)
			}
			nodes = append(nodes, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return checkNodes(nodes, graphWhere("graph", name), false)
}

func graphWhere(prefix, name string) string {
	if name == "" {
		return prefix
	}
	return fmt.Sprintf("%s %q", prefix, name)
}

// checkNodes checks the nodes of Domain among nodes, and every node of the
// subgraphs any of them holds (If/Loop/Scan bodies); where names the graph.
func checkNodes(nodes []*onnxpb.NodeProto, where string, inFunction bool) error {
	for i, n := range nodes {
		at := fmt.Sprintf("%s node %d", where, i)
		if n.GetName() != "" {
			at += fmt.Sprintf(" %q", n.GetName())
		}
		for _, a := range n.GetAttribute() {
			for _, g := range append([]*onnxpb.GraphProto{a.GetG()}, a.GetGraphs()...) {
				if g == nil {
					continue
				}
				sub := graphWhere(at+" attribute "+a.GetName()+" graph", g.GetName())
				if err := checkNodes(g.GetNode(), sub, inFunction); err != nil {
					return err
				}
			}
		}
		if n.GetDomain() != Domain {
			continue
		}
		want, ok := OpAttributes[n.GetOpType()]
		if !ok {
			return fmt.Errorf("%w: %s: %s has no op %q (it has %s)", ErrBadAttribute, at, Domain, n.GetOpType(),
				strings.Join(slices.Sorted(maps.Keys(OpAttributes)), ", "))
		}
		at += " (" + n.GetOpType() + ")"
		seen := map[string]bool{}
		for _, a := range n.GetAttribute() {
			if err := checkAttribute(a, at, want, inFunction, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkAttribute checks one attribute of a plugin node against want.
func checkAttribute(a *onnxpb.AttributeProto, where string, want []Attribute, inFunction bool, seen map[string]bool) error {
	name, typ := a.GetName(), a.GetType()
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
	case a.GetRefAttrName() != "" && !inFunction:
		return fmt.Errorf("%w: %s: attribute %s refers to function attribute %q (ref_attr_name), "+
			"which only a function body may do; ONNX Runtime would read it as 0",
			ErrBadAttribute, where, name, a.GetRefAttrName())
	}
	seen[name] = true
	return nil
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

// eachBytesField calls f with the number and contents of every
// length-delimited field of the message b, skipping the others; it stops
// at f's first error.
func eachBytesField(b []byte, f func(num protowire.Number, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			continue
		}
		if err := f(num, v); err != nil {
			return err
		}
	}
	return nil
}
