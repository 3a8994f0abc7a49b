#!/usr/bin/python3
"""Writes toy Vim training checkpoints whose args.model names agree with or
contradict their weights, for convert's args.model tests.

Run from the repository root with the interpreter that has torch:
    /usr/bin/python3 convert/testdata/argsmodel/make_argsmodel.py
CI has no PyTorch: the .pth files are committed.

The weights are fixtures/synthetic's toy Vim (make_sd: embed_dim 16, patch 4,
img 8, a 2x2 pos_embed grid, one cls_token); the checkpoints have the
training layout of vim/main.py (model, epoch, args as an argparse.Namespace).
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "fixtures", "synthetic"))
from make_synthetic import make_sd  # noqa: E402

TAIL = "bimambav2_final_pool_mean_abs_pos_embed"

# file -> args.model
NAMES = {
    # consistent, states the middle cls token
    "named_midcls.pth": f"vim_toy_patch4_8_{TAIL}_with_midclstok_div2",
    # consistent, but says nothing of the cls token
    "named_nocls.pth": f"vim_toy_patch4_8_{TAIL}_div2",
    # tiny is embed_dim 192; the weights have 16
    "named_wrong_width.pth": f"vim_tiny_patch4_8_{TAIL}_with_midclstok_div2",
    # stride 2 at img 8 is a 3x3 grid; pos_embed holds 2x2 (stride 4)
    "named_wrong_stride.pth": f"vim_toy_patch4_stride2_8_{TAIL}_with_midclstok_div2",
}


def main():
    sd = make_sd(11)
    for i, (fname, name) in enumerate(sorted(NAMES.items())):
        ns = argparse.Namespace(model=name, input_size=8, batch_size=128, lr=5e-4, no_amp=True)
        torch.save({"model": sd, "epoch": 1, "args": ns}, os.path.join(HERE, fname))
        print(fname, name)


if __name__ == "__main__":
    main()
