#!/usr/bin/python3
"""Writes the single-op test models of ops/testdata (run: /usr/bin/python3 make_models.py).

Each model is one node of the ai.vimconvert domain (ops/README.md) whose
inputs are the graph inputs, IR 8, opset 17 + ai.vimconvert 1, so the onnx
1.12 checker accepts them. Sizes are symbolic (batch, seqlen, dim, dstate) so
one model serves every fixture size. The bad_*.onnx models are deliberately
wrong; the tests expect ONNX Runtime to refuse them with an error.
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "ai.vimconvert"

ACT = ["batch", "seqlen", "dim"]   # [B, L, D]
AMAT = ["dim", "dstate"]           # [D, N]
BC = ["batch", "seqlen", "dstate"]  # [B, L, N]
VEC = ["dim"]                      # [D]
DIRECTION = [("u", ACT), ("delta", ACT), ("A", AMAT), ("B", BC), ("C", BC), ("D", VEC),
             ("delta_bias", VEC)]


def inputs(bidirectional):
    if bidirectional:
        ins = [(n + "_f", s) for n, s in DIRECTION] + [(n + "_b", s) for n, s in DIRECTION]
    else:
        ins = list(DIRECTION)
    return ins + [("z", ACT)]


def model(op, ins, attrs, elem=None):
    elem = elem or {}
    vis = []
    for name, shape in ins:
        t = elem.get(name, TensorProto.FLOAT)
        vis.append(helper.make_tensor_value_info(name, t, shape))
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ACT)
    node = helper.make_node(op, [n for n, _ in ins], ["y"], domain=DOMAIN, **attrs)
    graph = helper.make_graph([node], op, vis, [out])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid(DOMAIN, 1)],
                          producer_name="vimconvert ops/testdata/make_models.py")
    m.ir_version = 8
    return m


def conv_model():
    """CausalConv1dSiLUBidirectional: x [B, L, X] (X >= D), w_f/w_b [D, 1, K],
    b_f/b_b [D] -> u_f, u_b [B, L, D]. The weights' middle dim is symbolic so
    that a wrong one reaches the op's own validation."""
    ins = [("x", ["batch", "seqlen", "xdim"]), ("w_f", ["dim", "in_per_group", "k"]), ("b_f", VEC),
           ("w_b", ["dim", "in_per_group", "k"]), ("b_b", VEC)]
    vis = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in ins]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ACT) for n in ("u_f", "u_b")]
    node = helper.make_node("CausalConv1dSiLUBidirectional", [n for n, _ in ins], ["u_f", "u_b"],
                            domain=DOMAIN)
    graph = helper.make_graph([node], "CausalConv1dSiLUBidirectional", vis, outs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid(DOMAIN, 1)],
                          producer_name="vimconvert ops/testdata/make_models.py")
    m.ir_version = 8
    return m


def reshaped_u(m):
    g = m.graph
    g.input[0].CopyFrom(helper.make_tensor_value_info("u_f_data", TensorProto.FLOAT, ["n"]))
    g.input.append(helper.make_tensor_value_info("u_f_shape", TensorProto.INT64, ["rank"]))
    reshape = helper.make_node("Reshape", ["u_f_data", "u_f_shape"], ["u_f"])
    g.node.insert(0, reshape)
    return m


def unnamed_dims(m):
    """Every graph input and output dim unknown and unnamed (as after a
    Reshape with a runtime shape): the op's shape inference must still name
    its output dims, or ORT warns on every run (VerifyOutputSizes)."""
    for vi in list(m.graph.input) + list(m.graph.output):
        for d in vi.type.tensor_type.shape.dim:
            d.Clear()
    return m


def save(name, m):
    onnx.checker.check_model(m, full_check=True)
    path = os.path.join(HERE, name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(m.SerializeToString())
    os.replace(tmp, path)
    print("wrote", name)


def main():
    bi = "SelectiveScanBidirectional"
    save("scan_bidirectional.onnx", model(bi, inputs(True), {}))  # divide_out default (1)
    save("scan_bidirectional_divide1.onnx", model(bi, inputs(True), {"divide_out": 1}))
    save("scan_bidirectional_sum.onnx", model(bi, inputs(True), {"divide_out": 0}))
    save("scan_unidirectional.onnx", model("SelectiveScan", inputs(False), {}))
    # u_f arrives flat and is reshaped by a runtime shape (u_f_shape), so its
    # rank is unknown until the run: a wrong rank reaches the kernel, whose
    # own validation is then what the tests see.
    save("scan_bidirectional_reshape.onnx", reshaped_u(model(bi, inputs(True), {})))
    save("conv_bidirectional.onnx", conv_model())
    save("conv_bidirectional_unnamed.onnx", unnamed_dims(conv_model()))
    save("scan_bidirectional_unnamed.onnx", unnamed_dims(model(bi, inputs(True), {})))
    # Refused when the session is created.
    save("bad_input_count.onnx", model(bi, inputs(True)[:-1], {}))
    save("bad_dtype.onnx", model("SelectiveScan", inputs(False), {}, elem={"u": TensorProto.DOUBLE}))
    save("bad_divide_out.onnx", model(bi, inputs(True), {"divide_out": 2}))
    static = [(n, [{"batch": 1, "seqlen": 4, "dim": 8, "dstate": 16}[d] for d in s])
              for n, s in inputs(False)]
    static[3] = ("B", [1, 4, 15])  # N = 15 here, 16 in A
    save("bad_static_shape.onnx", model("SelectiveScan", static, {}))


if __name__ == "__main__":
    main()
