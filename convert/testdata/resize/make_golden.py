"""Golden data for convert/resize_test.go, made with real PyTorch.

Run with an interpreter that has torch (tested with torch 1.13.1 CPU):
    /usr/bin/python3 convert/testdata/resize/make_golden.py
It rewrites the .npy files beside this script. CI has no torch: the outputs are
committed.

Cases:
* grid_in.npy [1, C, H, W]: a random 14x14 grid of 8 channels; grid_28.npy and
  grid_9.npy are F.interpolate(..., mode='bicubic', align_corners=False) to
  28x28 (upsample) and 9x9 (downsample); grid_14.npy to the same size.
* pos_in.npy [1, 197, 8]: a pos_embed for 196 patches + middle cls (row 98).
  pos_mid_28.npy [1, 785, 8] is the correct resize for a middle cls token:
  the cls row (98) is taken out, the 196 patch rows are resized as a 14x14
  grid to 28x28 and the cls row is put back at 784//2 = 392.
  pos_head_28.npy: same input read as a head cls model (row 0 = cls), which is
  what vim/main.py's fine-tune interpolation does for every model.
* pos_mid_12x20.npy [1, 241, 8]: pos_in.npy as a middle cls model resized to
  a non-square 12x20 grid (192x320 pixels at patch 16): cls row 98 out, the
  patches resized 14x14 -> 12x20 (size=(12, 20)), cls back at 240//2 = 120.
  It is computed and saved in float64 (torch's own float32 result differs
  from it by 3e-6 at this shape), so the test can hold the Go resize to the
  float32 rounding of its output.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, t):
    np.save(os.path.join(HERE, name), t.detach().numpy().astype(np.float32))


def resize_rows(rows, old, new, new_w=None):
    # rows [M, D] row-major grid -> [new*new_w, D]
    new_w = new if new_w is None else new_w
    d = rows.shape[-1]
    g = rows.reshape(1, old, old, d).permute(0, 3, 1, 2)  # [1, D, old, old]
    g = F.interpolate(g, size=(new, new_w), mode="bicubic", align_corners=False)
    return g.permute(0, 2, 3, 1).reshape(new * new_w, d)  # [new*new_w, D]


def main():
    torch.manual_seed(1234)
    grid = torch.randn(1, 8, 14, 14)
    save("grid_in.npy", grid)
    for n in (28, 9, 14):
        save(f"grid_{n}.npy", F.interpolate(grid, size=(n, n), mode="bicubic", align_corners=False))

    pos = torch.randn(1, 197, 8)
    save("pos_in.npy", pos)
    m_old, m_new = 196, 784
    cls = pos[0, m_old // 2]
    patches = torch.cat([pos[0, : m_old // 2], pos[0, m_old // 2 + 1 :]])
    new = resize_rows(patches, 14, 28)
    out = torch.cat([new[: m_new // 2], cls[None], new[m_new // 2 :]])[None]
    save("pos_mid_28.npy", out)

    new = resize_rows(patches.double(), 14, 12, 20)
    out = torch.cat([new[:120], cls.double()[None], new[120:]])[None]
    np.save(os.path.join(HERE, "pos_mid_12x20.npy"), out.numpy())  # float64

    cls = pos[0, 0]
    new = resize_rows(pos[0, 1:], 14, 28)
    save("pos_head_28.npy", torch.cat([cls[None], new])[None])
    print("torch", torch.__version__, "wrote", sorted(f for f in os.listdir(HERE) if f.endswith(".npy")))


if __name__ == "__main__":
    main()
