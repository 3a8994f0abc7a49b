"""Writes the tiny ONNX models the runtime tests use (run with /usr/bin/python3, onnx 1.12).

add_relu.onnx: logits = Relu(pixel_values + bias), pixel_values [batch, 3, 2, 2] float32,
               bias a [3, 1, 1] initializer holding (1, -1, 0.5). No custom ops.
custom_op.onnx: y = ai.vimconvert.SelectiveScan(u, delta, A, B, C, D, delta_bias, z), all
               graph inputs, to check that sessions register (or miss) the plugin.
"""
import os

import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))


def add_relu():
    x = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 2, 2])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, 2, 2])
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [3, 1, 1], [1.0, -1.0, 0.5])
    nodes = [
        helper.make_node("Add", ["pixel_values", "bias"], ["sum"]),
        helper.make_node("Relu", ["sum"], ["logits"]),
    ]
    g = helper.make_graph(nodes, "add_relu", [x], [y], [bias])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="runtime/testdata")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(here, "add_relu.onnx"))


def custom_op():
    B, L, D, N = 1, 3, 4, 2
    f = TensorProto.FLOAT
    ins = [
        helper.make_tensor_value_info("u", f, [B, L, D]),
        helper.make_tensor_value_info("delta", f, [B, L, D]),
        helper.make_tensor_value_info("A", f, [D, N]),
        helper.make_tensor_value_info("B", f, [B, L, N]),
        helper.make_tensor_value_info("C", f, [B, L, N]),
        helper.make_tensor_value_info("D", f, [D]),
        helper.make_tensor_value_info("delta_bias", f, [D]),
        helper.make_tensor_value_info("z", f, [B, L, D]),
    ]
    out = helper.make_tensor_value_info("y", f, [B, L, D])
    node = helper.make_node("SelectiveScan", [i.name for i in ins], ["y"], domain="ai.vimconvert")
    g = helper.make_graph([node], "custom_op", ins, [out])
    m = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.vimconvert", 1)],
        producer_name="runtime/testdata",
    )
    m.ir_version = 8
    onnx.save(m, os.path.join(here, "custom_op.onnx"))


if __name__ == "__main__":
    add_relu()
    custom_op()
