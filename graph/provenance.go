package graph

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// Provenance records where an exported model came from; ConvertFile
// writes it as JSON under MetaProvenance. The effective architecture is
// under MetaConfig (one owner); this holds everything else a reader needs
// to trust the model.
type Provenance struct {
	// SourceFile is the checkpoint's file name (without its directory).
	SourceFile string `json:"source_file"`
	// SourceSHA256 is the lowercase hex sha256 of the checkpoint file.
	SourceSHA256 string `json:"source_sha256"`
	// Weights is the weight set converted (model or model_ema).
	Weights convert.Weights `json:"weights"`
	// Layout is the checkpoint layout (convert.Info.Layout).
	Layout string `json:"layout"`
	// ArgsModel is args.model of a training checkpoint, or "".
	ArgsModel string `json:"args_model,omitempty"`
	// Variant is the official registry entry the architecture matches, or "".
	Variant string `json:"variant,omitempty"`
	// Version is the vimconvert version that converted it (ProducerVersion).
	Version string `json:"vimconvert_version"`
	// Assumed lists every default applied for what the weights cannot tell
	// (convert.Info.Assumed).
	Assumed []string `json:"assumed"`
	// Warnings lists the output-changing choices that were guesses
	// (convert.Info.Warnings); a verification sharing them proves nothing
	// about them.
	Warnings []string `json:"warnings"`
}

// NewProvenance describes the checkpoint that info was loaded from.
func NewProvenance(info *convert.Info) Provenance {
	return Provenance{
		SourceFile: filepath.Base(info.Path), SourceSHA256: info.SHA256, Weights: info.Weights,
		Layout: info.Layout, ArgsModel: info.ArgsModel, Variant: info.Variant, Version: ProducerVersion,
		Assumed: append([]string{}, info.Assumed...), Warnings: append([]string{}, info.Warnings...),
	}
}

// SetProvenance records p in mp's metadata under MetaProvenance,
// replacing an earlier record.
func SetProvenance(mp *onnxpb.ModelProto, p Provenance) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("graph: encode provenance: %w", err)
	}
	for _, e := range mp.GetMetadataProps() {
		if e.GetKey() == MetaProvenance {
			e.Value = proto.String(string(b))
			return nil
		}
	}
	mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(MetaProvenance), Value: proto.String(string(b))})
	return nil
}

// ReadProvenance returns the Provenance recorded in mp and whether it has
// one (models converted before it was recorded have none); name is used in
// error messages.
func ReadProvenance(name string, mp *onnxpb.ModelProto) (Provenance, bool, error) {
	var p Provenance
	s, ok := onnxfile.Metadata(mp)[MetaProvenance]
	if !ok {
		return p, false, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, true, fmt.Errorf("%s: metadata %s: %w", name, MetaProvenance, err)
	}
	return p, true, nil
}

// ReadModelInfo reads back a model exported by vimconvert (ReadModel) and
// describes it as convert.Load describes a checkpoint: Info.Path is the
// model, Format "onnx", and the layout, weight set, args.model,
// assumptions and warnings are the source checkpoint's, from the
// provenance (nil, with those fields empty, for a model without one).
func ReadModelInfo(path string) (*convert.Model, *convert.Info, *Provenance, error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := modelFromProto(path, mp, true)
	if err != nil {
		return nil, nil, nil, err
	}
	p, ok, err := ReadProvenance(path, mp)
	if err != nil {
		return nil, nil, nil, err
	}
	dt, _ := ModelDType(mp) // modelFromProto has checked it
	info := &convert.Info{Path: path, Format: "onnx", DType: string(dt), DTypes: map[string]int{}}
	inits := onnxfile.Initializers(mp)
	_ = convert.EachTensor(&m.Config, func(key string, _ convert.TensorSpec, _ int) error {
		info.TensorCount++
		info.DTypes[onnxfile.StoredDType(inits[key])]++
		return nil
	})
	for _, t := range mp.GetGraph().GetInitializer() {
		n := int64(1)
		for _, d := range t.GetDims() {
			n *= d
		}
		info.ParamCount += n
	}
	info.Variant, info.VariantNote = convert.MatchRegistry(m.Config)
	if !ok {
		return m, info, nil, nil
	}
	p.describe(info)
	return m, info, &p, nil
}

// NoProvenanceSource is the Info.Source to report for a model read back that records no
// provenance.
const NoProvenanceSource = "unknown: the model records no provenance (converted by an older vimconvert)"

// describe sets the fields of info that describe the source checkpoint
// (layout, weight set, args.model, assumptions, warnings, sha256, Source)
// from p.
func (p Provenance) describe(info *convert.Info) {
	info.Layout, info.Weights, info.ArgsModel = p.Layout, p.Weights, p.ArgsModel
	info.Assumed, info.Warnings, info.SHA256 = p.Assumed, p.Warnings, p.SourceSHA256
	info.Source = fmt.Sprintf("%s (sha256 %s, %s weights), converted by vimconvert %s", p.SourceFile, p.SourceSHA256, p.Weights, p.Version)
}
