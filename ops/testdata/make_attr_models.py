#!/usr/bin/python3
"""Writes the attribute-type test models of ops/testdata (run: /usr/bin/python3 make_attr_models.py).

Each is a SelectiveScanBidirectional or SelectiveScan node (built like the
models of make_models.py) whose divide_out attribute is present with a type
other than int, or present on the unidirectional op, which has no such
attribute. ONNX Runtime does not check a custom op's attribute types, so the
plugin must refuse these itself: read as "absent", they would silently run
with the default divide_out = 1 (output halved).
"""
from onnx import helper

from make_models import inputs, model, save

BI = "SelectiveScanBidirectional"
UNI = "SelectiveScan"


def main():
    bad = {
        "bad_divide_out_float.onnx": (BI, 0.0),
        "bad_divide_out_string.onnx": (BI, "zero"),
        "bad_divide_out_ints.onnx": (BI, [0]),
        "bad_divide_out_floats.onnx": (BI, [0.0]),
        # no OrtApi v17 call reads these two: recognised by ORT's message
        "bad_divide_out_strings.onnx": (BI, ["0"]),
        "bad_divide_out_tensor.onnx": (BI, helper.make_tensor("t", 7, [], [0])),  # int64 scalar
        "bad_unidirectional_divide_out.onnx": (UNI, 0),
        "bad_unidirectional_divide_out_float.onnx": (UNI, 1.0),
    }
    for name, (op, value) in bad.items():
        save(name, model(op, inputs(op == BI), {"divide_out": value}))


if __name__ == "__main__":
    main()
