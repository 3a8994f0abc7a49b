#!/usr/bin/python3
"""Writes predict_vim_t_d2_x0.npy with NumPy for cmd/vimconvert's predict tests.

The array is the first image of fixtures/vim_t_d2/input.pth (the official
golden input), so `vimconvert predict` on it must reproduce row 0 of
fixtures/vim_t_d2/expected.pth. Also writes a float64 copy (which predict
must refuse). Run from the repository root with the system interpreter
(it has torch and numpy; CI does not need it, the outputs are committed):

    /usr/bin/python3 cmd/vimconvert/testdata/make_predict_input.py
"""
import numpy as np
import torch

x = torch.load("fixtures/vim_t_d2/input.pth")["x"][:1].numpy()
assert x.dtype == np.float32 and x.shape == (1, 3, 224, 224) and x.flags.c_contiguous
np.save("cmd/vimconvert/testdata/predict_vim_t_d2_x0.npy", x)
np.save("cmd/vimconvert/testdata/predict_f64_1x3x2x2.npy", np.arange(12, dtype=np.float64).reshape(1, 3, 2, 2))
