#!/usr/bin/env python3
"""Dumps the official scan fixtures to raw float32 files in the op's layout,
for the standalone CUDA harness (ops/cuda/harness.cu, --fixtures DIR).

Usage: fixtures_to_raw.py FIXTURES_SCAN_DIR OUT_DIR   (needs torch)

For each case OUT_DIR/NAME.txt holds "B L D N bidir out_scale" and every array
is OUT_DIR/NAME.KEY.f32 (little-endian float32); OUT_DIR/index.txt lists the
cases. Layout conversions (fixtures/README.md, manifest.json):
  scan_b*_l*_d*_n16.pth: official selective_scan_ref inputs, u/delta/z/out
    (b, d, l) -> [B, L, D]; B/C (b, n, l) -> [B, L, N]; forward only.
  bimamba_v2_mixer.pth: the forward and backward pieces of one v2 mixer; the
    backward ones are stored in flipped order and are flipped back to the
    original token order; z is the second half of xz; expected = combined
    ((out_f + out_b.flip) / 2 before out_proj, [B, L, D]).
"""
import os
import sys

import torch


def tok_major(x):
    """(b, c, l) -> [B, L, C], contiguous float32."""
    return x.permute(0, 2, 1).contiguous().float()


def write(out_dir, name, header, arrays):
    for key, t in arrays.items():
        t = t.detach().contiguous().float().cpu()
        path = os.path.join(out_dir, f"{name}.{key}.f32")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(t.numpy().astype("<f4").tobytes())
        os.replace(tmp, path)
    with open(os.path.join(out_dir, f"{name}.txt"), "w") as f:
        f.write(" ".join(str(v) for v in header) + "\n")


# The scan inputs of one direction, in the op's input order; the per-token
# ones are (b, c, l) in the fixtures, A, D and delta_bias per channel.
SCAN_INPUTS = ("u", "delta", "A", "B", "C", "D", "delta_bias")
PER_TOKEN = {"u", "delta", "B", "C"}


def direction(suffix, to_tokens, d, keys):
    """The scan inputs of one direction, named KEY_suffix: keys names the
    fixture entry of each of SCAN_INPUTS; to_tokens lays out the per-token
    ones as [B, L, C]."""
    return {f"{k}_{suffix}": to_tokens(d[src]) if k in PER_TOKEN else d[src]
            for k, src in zip(SCAN_INPUTS, keys)}


def scan_case(path):
    d = torch.load(path, map_location="cpu")
    b, dim, L = d["u"].shape
    n = d["A"].shape[1]
    arrays = direction("f", tok_major, d, SCAN_INPUTS)
    arrays["z"] = tok_major(d["z"])
    arrays["expected"] = tok_major(d["out"])
    return (b, L, dim, n, 0, 1.0), arrays


def mixer_case(path):
    d = torch.load(path, map_location="cpu")
    xz = d["xz"]  # (b, 2*d_inner, l)
    dim = d["A"].shape[0]
    b, _, L = xz.shape
    n = d["A"].shape[1]

    def back(x):  # stored flipped along l -> original order, token-major
        return tok_major(x.flip([-1]))

    arrays = {
        **direction("f", tok_major, d, ("fwd.conv_out", "fwd.delta_raw", "A", "fwd.B", "fwd.C",
                                        "param.D", "param.dt_proj.bias")),
        **direction("b", back, d, ("bwd.conv_out", "bwd.delta_raw", "A_b", "bwd.B", "bwd.C",
                                   "param.D_b", "param.dt_proj_b.bias")),
        "z": tok_major(xz[:, dim:, :]),
        "expected": d["combined"].contiguous().float(),
    }
    return (b, L, dim, n, 1, 0.5), arrays


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    names = []
    for fn in sorted(os.listdir(src)):
        if not fn.endswith(".pth"):
            continue
        name = fn[:-4]
        path = os.path.join(src, fn)
        header, arrays = mixer_case(path) if name == "bimamba_v2_mixer" else scan_case(path)
        write(out, name, header, arrays)
        names.append(name)
    if not names:
        sys.exit(f"no .pth files in {src}")
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"wrote {len(names)} cases to {out}")


if __name__ == "__main__":
    main()
