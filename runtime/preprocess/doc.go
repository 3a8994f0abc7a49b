// Package preprocess turns image files into the exact input tensor a PyTorch image
// classifier was evaluated with, and names the classes it predicts.
//
// It reproduces, bit for bit, the evaluation pipeline hustvl/Vim uses (vim/datasets.py,
// build_transform with is_train=False) and timm's eval transform (MambaOut), both of
// which are torchvision transforms applied to a PIL image:
//
//	Image.open(f).convert("RGB")                 // DecodeFile / Decoder.Decode -> *RGB8
//	Resize(ResizeShort, interpolation=BICUBIC)   // PIL's fixed-point separable bicubic
//	CenterCrop(InputSize)                        // torchvision's offsets (round half to even)
//	ToTensor(); Normalize(Mean, Std)             // float32, CHW
//
// LoadBatch does the above for several files at once (decoding concurrently) and
// gives the batch as float32 NCHW or as 8-bit NHWC crops. ImageNetLabels and
// ReadLabels name the classes of a head.
//
// The numbers are a Recipe (input size, resize size, interpolation, mean, std), never
// hard-coded, so that any model's eval transform can be described and recorded.
//
// Decoding matches PIL 9.4 with libjpeg-turbo (Debian's python3-pil): JPEG goes through
// the system libjpeg via cgo with PIL's decoder settings, PNG/GIF through Go's
// lossless decoders, BMP through this package's reading of every variant PIL opens
// (bmp.go: OS/2 and v3-v5 headers, 1/4/8/16/24/32 bits, bitfields, RLE4/RLE8), and
// every PIL mode is converted to RGB with PIL's own rule.
// Tests compare against tensors made by python3-pil + python3-torchvision
// (scripts/make-preprocess-fixtures.py).
//
// What it must not do: guess. Input it cannot reproduce exactly (an unknown format, a
// GIF frame reaching past 65535 pixels, 12-bit JPEG) is an error naming the
// file and the problem, never an approximation; untrusted files are size-checked from
// their headers before any pixel buffer is allocated (MaxImagePixels); no EXIF
// rotation, no colour management, no alpha compositing, because the reference applies
// none. It does not run models and does not know about ONNX; callers record a Recipe's
// JSON in model metadata themselves.
package preprocess
