package convert

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/vimconvert/vimconvert/convert/torchfile"
)

// Options are the user's choices for what the weights cannot tell.
type Options struct {
	// Weights picks the weight set: WeightsModel (default when "") or
	// WeightsEMA. A set the checkpoint lacks is an error.
	Weights Weights
	// ClsToken is the cls placement: "" infers it (middle for a single
	// cls_token, double for cls_token_head/tail, none without), or one of
	// ClsMiddle, ClsHead, ClsDouble, ClsNone, checked against the weights.
	ClsToken ClsToken
	// ImgSize and Stride override the geometry inferred from pos_embed
	// (0 = infer). Stride is checked against pos_embed. An ImgSize that
	// pos_embed's grid cannot have (at any stride up to the patch) is a
	// resize: the weights' own geometry is inferred without it and
	// pos_embed is resampled to ImgSize (ResizePosEmbed), noted in
	// Info.Assumed.
	ImgSize, Stride int
	// ImgWidth is the input width of a non-square model (0 = ImgSize, a
	// square input); ImgSize is then the height. pos_embed is resampled
	// once, from the weights' own grid to the ImgSize×ImgWidth grid
	// (ResizePosEmbedHW).
	ImgWidth int
	// FinalPoolType, DivideOut and NormEps are the official constructor
	// arguments final_pool_type, if_divide_out and norm_epsilon, which the
	// weights cannot show ("", nil and 0: the registry's mean, True and
	// 1e-5). ParseKwargs reads them from their Python spelling.
	FinalPoolType string
	DivideOut     *bool
	NormEps       float64
}

// Info describes where a Model came from and what was assumed.
type Info struct {
	Path       string  `json:"path"`
	Format     string  `json:"format"`      // "zip" or "legacy"
	Layout     string  `json:"layout"`      // "training", "model", "state_dict" or "bare"
	Weights    Weights `json:"weights"`     // WeightsModel or WeightsEMA
	WeightsKey string  `json:"weights_key"` // top-level key read; "" for a bare state dict
	// StrippedPrefix is the key prefix removed from every tensor name
	// ("module." for DDP checkpoints), or "".
	StrippedPrefix string `json:"stripped_prefix"`
	// Variant is the official registry name the architecture matches
	// exactly (any num_classes), or "".
	Variant string `json:"variant"`
	// VariantNote names the closest registry entry and the differences
	// when Variant is "".
	VariantNote string         `json:"variant_note,omitempty"`
	ParamCount  int64          `json:"param_count"`
	TensorCount int            `json:"tensor_count"`
	DType       string         `json:"dtype"`  // storage dtype of every tensor, or "mixed"
	DTypes      map[string]int `json:"dtypes"` // storage dtype -> tensor count
	// Ignored lists top-level entries that were not used (optimizer, the
	// other weight set, args, ...), each with a short description.
	Ignored []string `json:"ignored"`
	// Assumed lists every default applied for what the weights cannot tell.
	Assumed []string `json:"assumed"`
	// Warnings lists the choices that change the outputs and are still
	// guesses (the cls placement of a checkpoint without args.model), each
	// naming why the weights cannot show it and the flag that settles it.
	// Every entry is also a reason to distrust a verification that shares
	// the guess.
	Warnings []string `json:"warnings,omitempty"`
	// SHA256 is the lowercase hex sha256 of the checkpoint file's bytes
	// (for a model read back, of the checkpoint it was converted from).
	SHA256 string `json:"sha256"`
	// Source is set for an exported model read back (Format "onnx"): the
	// checkpoint it was converted from and by which vimconvert.
	Source string `json:"source,omitempty"`
	// ArgsModel and ArgsInputSize are args.model and args.input_size of a
	// training checkpoint ("" / 0 when absent).
	ArgsModel     string `json:"args_model,omitempty"`
	ArgsInputSize int    `json:"args_input_size,omitempty"`
	// ArgsImgSize and ArgsCropPct are the evaluation size and crop fraction
	// a timm training checkpoint's args record (args.input_size [3, N, N],
	// else args.img_size; args.crop_pct), 0 when absent or None.
	ArgsImgSize int     `json:"args_img_size,omitempty"`
	ArgsCropPct float64 `json:"args_crop_pct,omitempty"`
	// ResampledFrom is the weights' own patch grid [h, w] when pos_embed
	// was resampled to another size (Options.ImgSize), else nil.
	ResampledFrom []int `json:"pos_embed_resampled_from,omitempty"`
}

// Origin is how inspect names where the weights were read: the file format,
// the checkpoint layout and, with weights set, the weight set ("unknown" for
// what a model without provenance metadata cannot tell).
func (i *Info) Origin(weights bool) string {
	s := fmt.Sprintf("%s format, %s layout", i.Format, cmp.Or(i.Layout, "unknown"))
	if weights {
		s += fmt.Sprintf(", %s weights", cmp.Or(string(i.Weights), "unknown"))
	}
	return s
}

// Load reads an official Vim checkpoint, picks the weight set, infers the
// architecture and maps every tensor. The file is untrusted: see the
// package's reader for what is checked.
func Load(path string, opts Options) (*Model, *Info, error) {
	return readCheckpointFile(path, func(ra io.ReaderAt, size int64) (*Model, *Info, error) {
		return LoadFrom(ra, size, opts)
	})
}

// ErrNoWeightSet is wrapped when the requested weight set is absent.
var ErrNoWeightSet = errors.New("weight set not in checkpoint")

// LoadFrom is Load for a checkpoint of size bytes read through ra (Info.Path
// stays empty).
func LoadFrom(ra io.ReaderAt, size int64, opts Options) (*Model, *Info, error) {
	sd, info, err := readStateDictFrom(ra, size, opts.Weights)
	if err != nil {
		return nil, nil, err
	}
	opts.Weights = info.Weights
	userStride, userCls, userImg := opts.Stride, opts.ClsToken, opts.ImgSize
	argsNotes, err := applyArgsModel(sd, &opts, info)
	if err != nil {
		return nil, nil, err
	}
	info.Assumed = append(info.Assumed, argsNotes...)
	resizeTo := 0
	geomNotes, err := fixStride(sd, &opts, &resizeTo, info)
	if err != nil {
		return nil, nil, err
	}
	if opts.ImgSize > 0 {
		// Options.ImgSize with an explicit Options.Stride (or a model without
		// pos_embed): either the weights' grid, or a resize.
		_, _, err := inferConfig(sd, opts)
		switch {
		case errors.Is(err, ErrGeometryMismatch):
			// Not a size of these weights: infer their own geometry
			// and resample pos_embed to the requested size below.
			resizeTo, opts.ImgSize = opts.ImgSize, 0
		case err != nil:
			return nil, nil, err
		}
	}
	if opts.ImgSize == 0 && info.ArgsInputSize > 0 && (resizeTo == 0 || opts.Stride == 0) {
		// A training checkpoint records its input size: use it to pick
		// the geometry, and say so (not for --img-size with an explicit
		// --stride that gives another grid: the weights' grid at that
		// stride, resized to --img-size below, is what was asked).
		o2 := opts
		o2.ImgSize = info.ArgsInputSize
		if _, _, err := inferConfig(sd, o2); err != nil {
			own, _, errAnySize := inferConfig(sd, opts)
			if errAnySize != nil && !errors.Is(errAnySize, ErrGeometryMismatch) {
				// Not about the size (an option the weights refuse,
				// such as the cls token placement): say that alone.
				return nil, nil, errAnySize
			}
			switch {
			case opts.Stride > 0 && errors.Is(err, ErrGeometryMismatch):
				// the stride is the user's: do not blame an Options.ImgSize they did not give
				return nil, nil, fmt.Errorf("args.input_size %d of the training checkpoint does not fit --stride %d: it does not give the pos_embed grid at that stride (add --img-size to choose the size, or leave --stride out for the checkpoint's own)", info.ArgsInputSize, opts.Stride)
			case userImg > 0 && errAnySize == nil:
				// the user chose the size: the weights' own geometry, then
				// their size (below), without the args that contradict them
				info.Assumed = append(info.Assumed, fmt.Sprintf("args.input_size %d of the training checkpoint ignored: it does not give the weights' %d×%d pos_embed grid", info.ArgsInputSize, own.GridSize(), own.GridSize()))
			case errAnySize == nil && errors.Is(err, ErrGeometryMismatch):
				return nil, nil, fmt.Errorf("args.input_size %d does not fit the weights: their %d×%d pos_embed grid (patch %d) is img_size %d at stride %d, and no stride up to the patch size gives it at %d: the checkpoint's args do not describe its weights (--img-size N overrides them)",
					info.ArgsInputSize, own.GridSize(), own.GridSize(), own.PatchSize, own.ImgSize, own.Stride, info.ArgsInputSize)
			default:
				return nil, nil, fmt.Errorf("args.input_size %d does not fit the weights: %w", info.ArgsInputSize, err)
			}
		} else {
			opts = o2
			info.Assumed = append(info.Assumed, fmt.Sprintf("img_size %d from args.input_size of the training checkpoint", o2.ImgSize))
		}
	}
	c, assumed, err := inferConfig(sd, opts)
	if err != nil {
		return nil, nil, err
	}
	info.Assumed = append(info.Assumed, assumed...)
	info.Assumed = append(info.Assumed, geomNotes...)
	if err := checkArgsModelGeometry(c, info, userStride); err != nil {
		return nil, nil, err
	}
	if userCls == "" && opts.ClsToken == "" && c.ClsToken == ClsMiddle {
		info.Warnings = append(info.Warnings, ClsGuessWarning)
	}
	if opts.FinalPoolType == "" && c.ClsToken == ClsNone {
		info.Warnings = append(info.Warnings, ReadoutGuessWarning)
	}
	m, err := mapTensors(sd, c)
	if err != nil {
		return nil, nil, err
	}
	info.Variant, info.VariantNote = matchRegistry(c)
	if err := resizeLoaded(m, resizeTo, opts.ImgWidth, info); err != nil {
		return nil, nil, err
	}
	return m, info, nil
}

// resizeLoaded resamples the pos_embed of a loaded model m once to the
// requested height (resizeTo, 0 = the loaded one) and width (0 = the
// height) when they give another geometry, and notes it in info.Assumed.
func resizeLoaded(m *Model, resizeTo, width int, info *Info) error {
	c := m.Config
	h := c.ImgSize
	if resizeTo > 0 {
		h = resizeTo
	}
	w := h
	if width > 0 {
		w = width
	}
	if h == c.ImgSize && w == c.Width() {
		return nil
	}
	if err := ResizePosEmbedHW(m, h, w); err != nil {
		if h == w {
			return fmt.Errorf("--img-size %d: %w", h, err)
		}
		return fmt.Errorf("--img-size %dx%d: %w", h, w, err)
	}
	n := m.Config
	gh, gw := c.GridHW()
	nh, nw := n.GridHW()
	size := fmt.Sprint(n.ImgSize)
	if !n.Square() {
		size = fmt.Sprintf("%d×%d", n.ImgSize, n.Width())
	}
	info.ResampledFrom = []int{gh, gw}
	info.Assumed = append(info.Assumed, fmt.Sprintf("pos_embed resampled bicubically from the weights' %d×%d grid (img_size %d) to %d×%d for img_size %s (stride %d; cls token rows kept)",
		gh, gw, c.ImgSize, nh, nw, size, n.Stride))
	return nil
}

// ParseImageSize reads an image size "N" (square) or "HxW" (height ×
// width; "×" works too) and returns height and width.
func ParseImageSize(s string) (h, w int, err error) {
	hs, ws, nonSquare := strings.Cut(strings.ReplaceAll(strings.ToLower(s), "×", "x"), "x")
	if h, err = strconv.Atoi(strings.TrimSpace(hs)); err == nil && nonSquare {
		w, err = strconv.Atoi(strings.TrimSpace(ws))
	} else {
		w = h
	}
	if err != nil || h < 1 || w < 1 {
		return 0, 0, fmt.Errorf("image size %q: want N or HxW with positive integers", s)
	}
	return h, w, nil
}

// nativeConfig infers the configuration the weights have on their own,
// as a load without Options.ImgSize and Options.Stride does: the pos_embed grid and
// the official layouts, refined by args.input_size of a training
// checkpoint when that fits the weights.
func nativeConfig(sd map[string]*Tensor, opts Options, info *Info) (Config, error) {
	opts.ImgSize, opts.Stride = 0, 0
	if info.ArgsInputSize > 0 {
		o2 := opts
		o2.ImgSize = info.ArgsInputSize
		if c, _, err := inferConfig(sd, o2); err == nil {
			return c, nil
		}
	}
	c, _, err := inferConfig(sd, opts)
	return c, err
}

// fixStride makes the stride a property of the weights, never of the
// requested image size. Fitting Options.ImgSize to the pos_embed grid alone
// would pick whatever stride makes it fit (120 on a 14×14 grid at patch 16
// is stride 8, 68 is stride 4), an overlapping-patch model the weights
// were never trained as. So with pos_embed and Options.ImgSize but no Options.Stride,
// the stride is the native one (nativeConfig), and Options.ImgSize is either a
// size giving the native grid at that stride (opts.Stride is set), a
// resize keeping it (*resizeTo is set, opts.ImgSize cleared so the native
// geometry is inferred), or an error naming the sizes that fit. An
// explicit Options.Stride is the user's choice and is kept; when it is not the
// native stride, a note says so. It returns those notes for Info.Assumed.
func fixStride(sd map[string]*Tensor, opts *Options, resizeTo *int, info *Info) ([]string, error) {
	img, stride := opts.ImgSize, opts.Stride
	if sd["pos_embed"] == nil || (img == 0 && stride == 0) {
		return nil, nil
	}
	if err := checkSizeOptions(*opts); err != nil {
		return nil, err
	}
	nc, err := nativeConfig(sd, *opts, info)
	if err != nil {
		return nil, err
	}
	p, s, g := nc.PatchSize, nc.Stride, nc.GridSize()
	native := fmt.Sprintf("its %d×%d pos_embed grid is img_size %d at stride %d", g, g, nc.ImgSize, s)
	if stride > 0 {
		if stride == s {
			return nil, nil
		}
		return []string{fmt.Sprintf("note: stride %d (--stride) is not the checkpoint's native stride %d (%s): patches overlap or skip differently than in training, a different model", stride, s, native)}, nil
	}
	switch {
	case img == nc.ImgSize:
		// exactly the native geometry: infer it as without Options.ImgSize
		opts.ImgSize = 0
		return nil, nil
	case img < p:
		return nil, fmt.Errorf("--img-size %d is smaller than the patch size %d", img, p)
	case (img-p)/s+1 == g:
		opts.Stride = s
		return []string{fmt.Sprintf("stride %d from the checkpoint (%s); img_size %d gives the same grid", s, native, img)}, nil
	case (img-p)%s != 0:
		lo := img - (img-p)%s
		return nil, fmt.Errorf("--img-size %d does not fit patch %d and the checkpoint's stride %d (%s): (%d - %d) is not a multiple of %d (try %d or %d)",
			img, p, s, native, img, p, s, lo, lo+s)
	}
	*resizeTo, opts.ImgSize = img, 0
	return nil, nil
}

// describeEntry says in a few words what an ignored top-level entry is.
func describeEntry(k string, v any) string {
	switch x := v.(type) {
	case *torchfile.Object:
		return fmt.Sprintf("%s (%s, %d attributes)", k, x.Class(), x.NumAttrs())
	case *torchfile.Dict:
		return fmt.Sprintf("%s (%s, %d entries)", k, torchfile.TypeName(v), x.Len())
	case int64:
		return fmt.Sprintf("%s (int %d)", k, x)
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("%s (str %q)", k, x)
	}
	return fmt.Sprintf("%s (%s)", k, torchfile.TypeName(v))
}

// isStateDict reports whether d maps str keys to tensors only (and is
// non-empty).
func isStateDict(v any) bool {
	d, ok := v.(*torchfile.Dict)
	if !ok || d.Len() == 0 {
		return false
	}
	for i := 0; i < d.Len(); i++ {
		k := d.Key(i)
		if _, ok := k.(string); !ok {
			return false
		}
		if _, ok := d.Value(i).(*torchfile.TensorRef); !ok {
			return false
		}
	}
	return true
}

// weightKeys lists, per weight set, the top-level keys of a training
// checkpoint that may hold it, in order of preference: the official Vim
// trainer (DeiT's) writes "model" and "model_ema", timm's trainer (the
// MambaOut one) "state_dict" and "state_dict_ema".
var weightKeys = map[Weights][]string{
	WeightsModel: {"model", "state_dict"},
	WeightsEMA:   {string(WeightsEMA), "state_dict_ema"},
}

// selectWeights finds the requested weight set in the checkpoint's
// top-level object and records the layout and ignored entries.
func selectWeights(root any, weights Weights, info *Info) (any, error) {
	d, ok := root.(*torchfile.Dict)
	if !ok {
		return nil, fmt.Errorf("top-level object is a %s, not a dict (not a Vim checkpoint)", torchfile.TypeName(root))
	}
	if isStateDict(d) {
		info.Layout = "bare"
		if weights != WeightsModel {
			return nil, fmt.Errorf("%w: a bare state dict has only one weight set; --weights %s is not available", ErrNoWeightSet, weights)
		}
		return d, nil
	}
	key, available := "", []string{}
	for _, w := range []Weights{WeightsModel, WeightsEMA} {
		for _, k := range weightKeys[w] {
			if hasKey(d, k) {
				available = append(available, k)
				if w == weights && key == "" {
					key = k
				}
			}
		}
	}
	if key == "" {
		if len(available) == 0 {
			return nil, fmt.Errorf("no weights found: the top-level dict has neither tensors nor a %s entry (keys: %s)", strings.Join(slices.Concat(weightKeys[WeightsModel], weightKeys[WeightsEMA]), "/"), topKeys(d))
		}
		return nil, fmt.Errorf("%w: --weights %s is not in this checkpoint: it has no %s entry (available: %s)", ErrNoWeightSet, weights, strings.Join(weightKeys[weights], " or "), strings.Join(available, ", "))
	}
	info.WeightsKey = key
	switch {
	case hasKey(d, "optimizer") || hasKey(d, "args") || hasKey(d, "epoch"):
		info.Layout = "training"
	case strings.HasPrefix(key, "state_dict"):
		info.Layout = "state_dict"
	default:
		info.Layout = "model"
	}
	for i := 0; i < d.Len(); i++ {
		k := d.Key(i)
		ks, _ := k.(string)
		if ks == key {
			continue
		}
		desc := describeEntry(fmt.Sprint(ks), d.Value(i))
		if slices.Contains(available, ks) {
			desc += ": other weight set, see --weights"
		}
		info.Ignored = append(info.Ignored, desc)
		if ks == "args" {
			readArgs(d.Value(i), info)
		}
	}
	v, _ := d.Get(key)
	return v, nil
}

// readArgs sets info.ArgsModel and info.ArgsInputSize from a training
// checkpoint's args: vim/main.py's argparse.Namespace, or a dict of the
// same entries (vars(args)).
func readArgs(args any, info *Info) {
	var get func(string) (any, bool)
	switch a := args.(type) {
	case *torchfile.Object:
		get = a.Attr
	case *torchfile.Dict:
		get = a.Get
	default:
		return
	}
	if v, ok := get("model"); ok {
		info.ArgsModel, _ = v.(string)
	}
	if v, ok := get("input_size"); ok {
		if n, ok := v.(int64); ok && n > 0 && n < 1<<20 {
			info.ArgsInputSize = int(n)
		}
	}
	readTimmEvalArgs(get, info)
}

func hasKey(d *torchfile.Dict, k string) bool {
	_, ok := d.Get(k)
	return ok
}

func topKeys(d *torchfile.Dict) string {
	var ks []string
	for i := 0; i < d.Len(); i++ {
		k := d.Key(i)
		if s, ok := k.(string); ok {
			ks = append(ks, fmt.Sprintf("%q", s))
		} else {
			ks = append(ks, "<"+torchfile.TypeName(k)+">")
		}
	}
	return listSome(ks)
}

// stateDictNames checks that v is a non-empty state dict of tensors with
// string keys and returns its tensor names, with a "module." prefix carried
// by every key stripped (recorded in info), without reading tensor data.
func stateDictNames(v any, info *Info) (*torchfile.Dict, []string, error) {
	d, ok := v.(*torchfile.Dict)
	if !ok {
		return nil, nil, fmt.Errorf("%s weights are a %s, not a state dict", info.Weights, torchfile.TypeName(v))
	}
	if d.Len() == 0 {
		return nil, nil, fmt.Errorf("%s weights are an empty dict", info.Weights)
	}
	if d.HasState("_metadata") {
		info.Ignored = append(info.Ignored, info.WeightsKey+"._metadata (module versions)")
	}
	names := make([]string, d.Len())
	var bad []string
	for i := 0; i < d.Len(); i++ {
		k := d.Key(i)
		s, ok := k.(string)
		if !ok {
			return nil, nil, fmt.Errorf("state dict key #%d is a %s, not a str", i, torchfile.TypeName(k))
		}
		if len(s) > 1024 {
			return nil, nil, fmt.Errorf("state dict key #%d is %d bytes long (at most 1024)", i, len(s))
		}
		names[i] = s
		if _, ok := d.Value(i).(*torchfile.TensorRef); !ok {
			bad = append(bad, fmt.Sprintf("%s (%s)", s, torchfile.TypeName(d.Value(i))))
		}
	}
	if len(bad) > 0 {
		return nil, nil, fmt.Errorf("state dict entries that are not tensors: %s", listSome(bad))
	}
	info.StrippedPrefix = commonDDPPrefix(names)
	seen := make(map[string]bool, len(names))
	for i, s := range names {
		names[i] = strings.TrimPrefix(s, info.StrippedPrefix)
		if seen[names[i]] {
			return nil, nil, fmt.Errorf("tensor %s appears twice", names[i])
		}
		seen[names[i]] = true
	}
	return d, names, nil
}

// stateDict is stateDictNames with every tensor read (as float32).
func stateDict(v any, info *Info) (map[string]*Tensor, error) {
	d, names, err := stateDictNames(v, info)
	if err != nil {
		return nil, err
	}
	sd := make(map[string]*Tensor, len(names))
	for i, name := range names {
		t, err := d.Value(i).(*torchfile.TensorRef).Materialize(name)
		if err != nil {
			return nil, err
		}
		sd[name] = t
	}
	return sd, nil
}

// ErrNotCheckpoint is wrapped by the error for a file that is not a
// torch.save file at all (torchfile.ErrNotCheckpoint).
var ErrNotCheckpoint = torchfile.ErrNotCheckpoint

// ReadTensorFile reads a torch.save'd flat dict of tensors (the fixtures'
// input.pth, expected.pth, scan/*.pth) keyed by dict key; it is
// torchfile.ReadTensorFile, kept here for the packages that hold Tensors.
func ReadTensorFile(path string) (map[string]*Tensor, error) {
	return torchfile.ReadTensorFile(path)
}

// readTimmEvalArgs records in info the evaluation size and crop fraction
// of timm's train.py args (resolve_data_config: args.input_size [C, H, W]
// whenever it is set, else args.img_size; args.crop_pct). A non-square
// input_size leaves ArgsImgSize unset (it is one side), with a note: timm
// never falls back to img_size then.
func readTimmEvalArgs(get func(string) (any, bool), info *Info) {
	v, _ := get("input_size")
	if s, ok := torchfile.Ints(v); ok && len(s) == 3 {
		if s[1] == s[2] && s[1] > 0 && s[1] < 1<<20 {
			info.ArgsImgSize = int(s[1])
		} else {
			info.Assumed = append(info.Assumed, fmt.Sprintf("args.input_size %v of the training checkpoint is not a square size: its evaluation size is not taken from the args", s))
		}
	} else if v, ok := get("img_size"); ok {
		if n, ok := v.(int64); ok && n > 0 && n < 1<<20 {
			info.ArgsImgSize = int(n)
		}
	}
	if v, ok := get("crop_pct"); ok {
		if f, ok := v.(float64); ok && f > 0 && f <= 1 {
			info.ArgsCropPct = f
		}
	}
}
