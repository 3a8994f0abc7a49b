package graph

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// InputFormat is what the graph input pixel_values holds (Options.InputFormat).
type InputFormat string

// The input formats Build accepts.
const (
	// InputFloatNCHW is the default: the float32 [batch, 3, H, W] tensor of
	// torchvision's ToTensor + Normalize, as the official model takes it.
	InputFloatNCHW InputFormat = "float32-nchw"
	// InputUint8NHWC takes the 8-bit RGB crop, uint8 [batch, H, W, 3] (the
	// image as decoded, resized and cropped by an application); the graph
	// does ToTensor and Normalize itself (Cast, Transpose, Div 255, Sub
	// mean, Div std, each rounded to float32 as torchvision rounds it), with
	// the mean and std of Options.Preprocess.
	InputUint8NHWC InputFormat = "uint8-nhwc"
)

// InputFormats lists the input formats Build accepts, the default first.
var InputFormats = []InputFormat{InputFloatNCHW, InputUint8NHWC}

// checkInputOptions checks the input format and preprocessing metadata of
// opts against a model of img x img pixels with numClasses outputs, and
// returns the format with the default filled in.
func checkInputOptions(opts Options, img, numClasses int) (InputFormat, error) {
	f := opts.InputFormat
	if f == "" {
		f = InputFloatNCHW
	}
	if f != InputFloatNCHW && f != InputUint8NHWC {
		return "", fmt.Errorf("graph: unknown input format %q (have %v)", f, InputFormats)
	}
	if p := opts.Preprocess; p != nil {
		if err := p.Validate(); err != nil {
			return "", fmt.Errorf("graph: preprocessing: %w", err)
		}
		if p.InputSize != img {
			return "", fmt.Errorf("graph: preprocessing input size %d is not the model's image size %d", p.InputSize, img)
		}
	} else if f == InputUint8NHWC {
		return "", fmt.Errorf("graph: input format %s needs Options.Preprocess (its mean and std go into the graph)", f)
	}
	if opts.Labels != nil {
		if err := preprocess.CheckLabels(opts.Labels, numClasses); err != nil {
			return "", fmt.Errorf("graph: labels: %w", err)
		}
	}
	return f, nil
}

// imageInput declares the graph input in format f and returns the value
// holding the float32 [batch, chans, img, img] image the network starts from.
func (b *builder) imageInput(f InputFormat, p *preprocess.Recipe, chans, h, w int64) string {
	if f != InputUint8NHWC {
		return b.input(InputName, []int64{Batch, chans, h, w})
	}
	nhwc := []int64{Batch, h, w, chans}
	b.define(InputName, onnxpb.TensorProto_UINT8, nhwc)
	b.isIO[InputName] = true
	b.inputs = append(b.inputs, valueInfo(InputName, onnxpb.TensorProto_UINT8, nhwc))
	name := b.castTo("input_uint8/cast", InputName, onnxpb.TensorProto_FLOAT)
	nchw := []int64{Batch, chans, h, w}
	x := b.op1("Transpose", "input_uint8/to_nchw", []string{name}, nchw, attrInts("perm", 0, 3, 1, 2)) // [B, H, W, C] -> [B, C, H, W]
	x = b.op1("Div", "input_uint8/scale", []string{x, b.constF32(nil, 255)}, nchw)
	x = b.op1("Sub", "input_uint8/mean", []string{x, b.constF32([]int64{1, 3, 1, 1}, p.Mean[:]...)}, nchw)
	return b.op1("Div", "input_uint8/std", []string{x, b.constF32([]int64{1, 3, 1, 1}, p.Std[:]...)}, nchw)
}

// inputMetadata is the metadata_props recording how to feed the model:
// the input format, and, when opts has them, the preprocessing recipe and
// the class names.
func inputMetadata(f InputFormat, opts Options) ([]*onnxpb.StringStringEntryProto, error) {
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	props := []*onnxpb.StringStringEntryProto{kv(MetaInputFormat, string(f))}
	if opts.Preprocess != nil {
		js, err := opts.Preprocess.JSON()
		if err != nil {
			return nil, fmt.Errorf("graph: encode preprocessing: %w", err)
		}
		props = append(props, kv(MetaPreprocessRecipe, js))
	}
	if opts.LabelSet != "" {
		props = append(props, kv(MetaLabelSet, opts.LabelSet))
	}
	if opts.Labels != nil {
		props = append(props, kv(MetaLabels, strings.Join(opts.Labels, "\n")))
	}
	return props, nil
}

// RecordedInput returns how a model built by Build is fed, from its
// metadata meta (onnxfile.Metadata) of the model named name: the input
// format (MetaInputFormat; InputFloatNCHW when absent) and the
// preprocessing recipe (MetaPreprocessRecipe; nil when absent). A
// uint8-nhwc model must record its recipe: its graph embeds the mean and
// std, which whoever compares it with the float32 model needs.
func RecordedInput(name string, meta map[string]string) (InputFormat, *preprocess.Recipe, error) {
	f := InputFormat(meta[MetaInputFormat])
	if f == "" {
		f = InputFloatNCHW
	}
	if f != InputFloatNCHW && f != InputUint8NHWC {
		return f, nil, fmt.Errorf("%s: metadata %s %q is not one of %v", name, MetaInputFormat, f, InputFormats)
	}
	js, ok := meta[MetaPreprocessRecipe]
	if !ok {
		if f == InputUint8NHWC {
			return f, nil, fmt.Errorf("%s takes %s input but records no %s (the mean and std its graph applies)", name, f, MetaPreprocessRecipe)
		}
		return f, nil, nil
	}
	r, err := preprocess.ParseRecipe([]byte(js))
	if err != nil {
		return f, nil, fmt.Errorf("%s: metadata %s: %w", name, MetaPreprocessRecipe, err)
	}
	return f, &r, nil
}
