#!/usr/bin/python3
"""Writes the attribute test models of ops/testdata (run: /usr/bin/python3 make_attr_models.py).

Each is a SelectiveScanBidirectional or SelectiveScan node (built like the
models of make_models.py) whose divide_out attribute is present with a type
other than int, or present on the unidirectional op, which has no such
attribute. ONNX Runtime does not check a custom op's attribute types, so the
plugin must refuse these itself: read as "absent", they would silently run
with the default divide_out = 1 (output halved).

The bad_*attribute* models hold what the plugin cannot see through ONNX
Runtime's C API (no call lists a node's attributes): an unknown attribute
name, and divide_out given by ref_attr_name outside a function (ORT reads it
as 0). ops.CheckAttributes refuses them before a session is made.
"""
from onnx import AttributeProto, helper

from make_models import conv_model, inputs, model, save

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

    save("bad_unknown_attribute.onnx", model(BI, inputs(True), {"dividee_out": 0}))
    conv = conv_model()
    conv.graph.node[0].attribute.append(helper.make_attribute("foo", "bar"))
    save("bad_conv_unknown_attribute.onnx", conv)
    ref = model(BI, inputs(True), {})
    attr = AttributeProto(name="divide_out", ref_attr_name="d", type=AttributeProto.INT)
    ref.graph.node[0].attribute.append(attr)
    save("bad_ref_attribute.onnx", ref)


if __name__ == "__main__":
    main()
