package runtime

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// ValueInfo describes one graph input or output as declared in the ONNX file.
type ValueInfo struct {
	Name string
	// ElemType is the ONNX TensorProto.DataType (1 = float32, 10 = float16).
	ElemType int
	// Shape holds the declared dimensions; -1 marks a symbolic or unknown one
	// whose name (e.g. "batch") is in DimParams at the same index.
	Shape     []int64
	DimParams []string
}

// ModelInfo is the interface of an ONNX model: its graph inputs (without
// initializers) and outputs, in declaration order, plus the opsets it imports.
type ModelInfo struct {
	Inputs  []ValueInfo
	Outputs []ValueInfo
	// Opsets maps an operator-set domain ("" = ai.onnx) to its version.
	Opsets map[string]int64
}

// Field numbers from onnx.proto (ModelProto, GraphProto, ValueInfoProto,
// TypeProto, TypeProto.Tensor, TensorShapeProto, TensorProto, OperatorSetIdProto).
const (
	fieldModelOpsetImport = 8
	fieldModelGraph       = 7
	fieldGraphInitializer = 5
	fieldGraphInput       = 11
	fieldGraphOutput      = 12
	fieldValueInfoName    = 1
	fieldValueInfoType    = 2
	fieldTypeTensor       = 1
	fieldTensorElemType   = 1
	fieldTensorShape      = 2
	fieldShapeDim         = 1
	fieldDimValue         = 1
	fieldDimParam         = 2
	fieldTensorProtoName  = 8
	fieldOpsetDomain      = 1
	fieldOpsetVersion     = 2
)

var errMalformed = errors.New("malformed ONNX protobuf")

// ReadModelInfo reads the inputs and outputs declared by the ONNX file at
// path without creating a session (it decodes only the fields it needs).
func ReadModelInfo(path string) (*ModelInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrModelMissing, path)
		}
		return nil, fmt.Errorf("runtime: reading model: %w", err)
	}
	info, err := ParseModelInfo(data)
	if err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", path, err)
	}
	return info, nil
}

// ParseModelInfo decodes the graph inputs/outputs of a serialized ModelProto.
func ParseModelInfo(model []byte) (*ModelInfo, error) {
	info := &ModelInfo{Opsets: map[string]int64{}}
	var graph []byte
	err := eachField(model, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldModelGraph:
			graph = v
		case fieldModelOpsetImport:
			var dom string
			var ver int64
			if err := eachField(v, func(n protowire.Number, t protowire.Type, b []byte, x uint64) error {
				switch {
				case n == fieldOpsetDomain && t == protowire.BytesType:
					dom = string(b)
				case n == fieldOpsetVersion && t == protowire.VarintType:
					ver = int64(x)
				}
				return nil
			}); err != nil {
				return err
			}
			info.Opsets[dom] = ver
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graph == nil {
		return nil, fmt.Errorf("%w: no graph", errMalformed)
	}
	initializers := map[string]bool{}
	var inputs, outputs []ValueInfo
	err = eachField(graph, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldGraphInitializer:
			return eachField(v, func(n protowire.Number, t protowire.Type, b []byte, _ uint64) error {
				if n == fieldTensorProtoName && t == protowire.BytesType {
					initializers[string(b)] = true
				}
				return nil
			})
		case fieldGraphInput, fieldGraphOutput:
			vi, err := parseValueInfo(v)
			if err != nil {
				return err
			}
			if num == fieldGraphInput {
				inputs = append(inputs, vi)
			} else {
				outputs = append(outputs, vi)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		if !initializers[in.Name] { // IR < 4 lists initializers as inputs too
			info.Inputs = append(info.Inputs, in)
		}
	}
	info.Outputs = outputs
	return info, nil
}

func parseValueInfo(b []byte) (ValueInfo, error) {
	var vi ValueInfo
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldValueInfoName:
			vi.Name = string(v)
		case fieldValueInfoType:
			return eachField(v, func(n protowire.Number, t protowire.Type, tensor []byte, _ uint64) error {
				if n != fieldTypeTensor || t != protowire.BytesType {
					return nil
				}
				return eachField(tensor, func(n protowire.Number, t protowire.Type, sb []byte, x uint64) error {
					switch {
					case n == fieldTensorElemType && t == protowire.VarintType:
						vi.ElemType = int(x)
					case n == fieldTensorShape && t == protowire.BytesType:
						return eachField(sb, func(n protowire.Number, t protowire.Type, db []byte, _ uint64) error {
							if n != fieldShapeDim || t != protowire.BytesType {
								return nil
							}
							dim, param := int64(-1), ""
							if err := eachField(db, func(n protowire.Number, t protowire.Type, b []byte, x uint64) error {
								switch {
								case n == fieldDimValue && t == protowire.VarintType:
									dim = int64(x)
								case n == fieldDimParam && t == protowire.BytesType:
									param = string(b)
								}
								return nil
							}); err != nil {
								return err
							}
							vi.Shape = append(vi.Shape, dim)
							vi.DimParams = append(vi.DimParams, param)
							return nil
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return vi, err
}

// eachField calls fn for every top-level field of a protobuf message. For
// length-delimited fields v holds the bytes; for varints x holds the value.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
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
			return fmt.Errorf("%w: field %d: %w", errMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
