#!/usr/bin/python3
"""Writes the tensor files of verify's ReadInput/ReadExpected tests.

Run from this directory with the system interpreter (NumPy and torch):
    /usr/bin/python3 make_inputs.py
Every input holds v[i] = i * 0.5 - 3 in C order, shape (2, 3, 4, 4); the
Go tests check these values, so keep the two in sync.
"""
import numpy as np
import torch

x = (np.arange(96, dtype=np.float32) * 0.5 - 3.0).reshape(2, 3, 4, 4)
t = torch.from_numpy(x.copy())

# torch.save of a bare tensor (not a dict): a view with a storage offset
# and a batch stride, so the reader must honour both.
big = torch.cat([torch.zeros(1, 3, 4, 4), t, t])
torch.save(big[1:3], "bare_x.pth")
torch.save(t[:, :, 0, 0], "bare_logits.pth")  # [2, 3]: expected outputs

# NumPy .npz archives: the key is the keyword of np.savez.
np.savez("x.npz", x=x, y=x[:, :, 0, 0])                 # x by default
np.savez_compressed("xc.npz", x=x)                       # deflated members
np.savez("positional.npz", x)                            # its only array, arr_0
np.savez("two.npz", a=x, b=x)                            # ambiguous: refused
np.savez("golden.npz", x=x, logits=x[:, :, 0, 0])        # verify --input/--expected

# A dict whose other entries are no float tensors: only x is read.
torch.save({"x": t, "labels": torch.tensor([3, 5]), "note": "made by make_inputs.py", "seed": 0}, "x_meta.pth")
