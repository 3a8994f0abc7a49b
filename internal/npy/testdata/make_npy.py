#!/usr/bin/python3
"""Writes the .npy test files of internal/npy with NumPy itself.

Run from this directory with the system interpreter that has NumPy:
    /usr/bin/python3 make_npy.py
The Go tests check the values below, so keep the two in sync.
"""
import numpy as np
from numpy.lib import format as npf

# Values v[i] = i * 0.25 - 3 in C order, shape (2, 3, 4).
base = (np.arange(24, dtype=np.float64) * 0.25 - 3.0).reshape(2, 3, 4)

np.save("f32_2x3x4.npy", base.astype(np.float32))
np.save("f64_2x3x4.npy", base)
np.save("f32_scalar.npy", np.float32(1.5))
np.save("f32_empty_0x3.npy", np.zeros((0, 3), dtype=np.float32))
with open("f32_v2_2x3x4.npy", "wb") as f:
    npf.write_array(f, base.astype(np.float32), version=(2, 0))
with open("f32_v3_2x3x4.npy", "wb") as f:
    npf.write_array(f, base.astype(np.float32), version=(3, 0))
# Read exactly, into C order (the values are exact in float16).
np.save("f32_fortran_3x4.npy", np.asfortranarray(base[0].astype(np.float32)))
np.save("f64_fortran_2x3x4.npy", np.asfortranarray(base))
np.save("f32_transposed_4x3x2.npy", base.astype(np.float32).T)  # a .T is saved fortran_order
np.save("f32_bigendian_2x3x4.npy", base.astype(">f4"))
np.save("f64_bigendian_fortran_2x3x4.npy", np.asfortranarray(base.astype(">f8")))
np.save("f16_2x3x4.npy", base.astype(np.float16))
# Refused inputs.
np.save("i32_2x3x4.npy", base.astype(np.int32))
np.save("u8_2x3x4.npy", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
np.save("c64_2x3x4.npy", base.astype(np.complex64))
