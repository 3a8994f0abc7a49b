"""Export DeiT-Tiny-shaped ViTs to ONNX for `vimconvert bench --plain` (the
Vim vs DeiT resolution comparison in BENCHMARKS.md).

The model is torchvision's VisionTransformer with DeiT-T's (= ViT-Ti/16)
shape: patch 16, hidden 192, depth 12, 3 heads, MLP 768, 1000 classes, at
each requested image size (its own position embedding of (S/16)^2 + 1
tokens). The weights are random (seeded): only timing and memory are
measured, never accuracy.

Run with Debian's torch 1.13 + torchvision (CI has no torch; the models are
made at bench time and not committed):

    /usr/bin/python3 scripts/export_deit.py --out /tmp/deit 224 448 896 1248

It writes OUT/deit_t_<S>.onnx (opset 17, input "pixel_values"
[batch, 3, S, S], output "logits" [batch, 1000]) and prints each path.
"""
import argparse
import os

import torch
from torchvision.models.vision_transformer import VisionTransformer


def export(size, out_dir):
    torch.manual_seed(0)
    model = VisionTransformer(
        image_size=size, patch_size=16, num_layers=12, num_heads=3,
        hidden_dim=192, mlp_dim=768, num_classes=1000,
    ).eval()
    path = os.path.join(out_dir, f"deit_t_{size}.onnx")
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(
            model, x, path, opset_version=17,
            input_names=["pixel_values"], output_names=["logits"],
            dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("sizes", nargs="+", type=int, help="image sizes (multiples of 16)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for s in args.sizes:
        if s % 16:
            raise SystemExit(f"image size {s} is not a multiple of the patch size 16")
        print(export(s, args.out))


if __name__ == "__main__":
    main()
