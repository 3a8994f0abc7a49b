#!/usr/bin/python3
"""Writes the attribute test models of ops/testdata (run: /usr/bin/python3 make_attr_models.py).

Each is a SelectiveScanBidirectional or SelectiveScan node (built like the
models of make_models.py) whose divide_out attribute is present with a type
other than int, or present on the unidirectional op, which has no such
attribute. ONNX Runtime does not check a custom op's attribute types, so the
plugin must refuse these itself: read as "absent", they would silently run
with the default divide_out = 1 (output halved).

The bad_*attribute* models hold what the ops' kernels cannot see through
ONNX Runtime's kernel API (no call lists a node's attributes): an unknown
attribute name (also inside an If branch), and divide_out given by
ref_attr_name outside a function (ORT reads it as 0). ops.CheckAttributes
refuses them before a vimconvert session is made; in any other C host the
plugin's attribute check (common/attr_check.c, ORT >= 1.23) does.
"""
from onnx import AttributeProto, TensorProto, helper

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
    save("bad_unknown_attribute_in_if.onnx", if_model(
        model(BI, inputs(True), {"dividee_out": 0}), model(BI, inputs(True), {})))
    # Unknown attributes of types ORT's OpAttr_GetType has no value for.
    tensors = model(BI, inputs(True), {})
    tensors.graph.node[0].attribute.append(AttributeProto(
        name="dividee_out", type=AttributeProto.TENSORS, tensors=[helper.make_tensor("t", 7, [], [0])]))
    save("bad_unknown_attribute_tensors.onnx", tensors)
    conv = conv_model()
    conv.graph.node[0].attribute.append(AttributeProto(
        name="foo", type=AttributeProto.TYPE_PROTO, tp=helper.make_tensor_type_proto(1, [1])))
    save("bad_conv_unknown_attribute_type_proto.onnx", conv)
    save("bad_unknown_attribute_in_function.onnx",
         function_model([helper.make_attribute("dividee_out", 0)], {}))
    # Valid: the function's divide_out refers to its attribute d, which the
    # call gives as 1 (ORT resolves it when it inlines the function; unresolved
    # it would read as 0, the sum).
    ref = AttributeProto(name="divide_out", ref_attr_name="d", type=AttributeProto.INT)
    save("scan_function_ref_divide_out.onnx", function_model([ref], {"d": 1}, ["d"]))


def function_model(body_attrs, call_attrs, function_attrs=()):
    """The bidirectional scan inside a model-local function "Scan" (domain
    "local") whose body node has body_attrs; the graph calls it once."""
    ins = [n for n, _ in inputs(True)]
    m = model(BI, inputs(True), {})
    body = helper.make_node(BI, ins, ["y"], domain=m.graph.node[0].domain)
    body.attribute.extend(body_attrs)
    fn = helper.make_function("local", "Scan", ins, ["y"], [body], list(m.opset_import),
                              list(function_attrs))
    del m.graph.node[:]
    m.graph.node.append(helper.make_node("Scan", ins, ["y"], domain="local", **call_attrs))
    m.functions.append(fn)
    m.opset_import.append(helper.make_opsetid("local", 1))
    return m


def if_model(then_model, else_model):
    """One If node whose branches are the single-node graphs of the two
    models (same inputs, read from the outer scope); input "cond" picks."""
    def branch(m, name):
        node = m.graph.node[0]
        node.output[0] = "y_" + name
        out = helper.make_tensor_value_info("y_" + name, TensorProto.FLOAT, None)
        return helper.make_graph([node], name, [], [out])
    g = then_model.graph
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    node = helper.make_node("If", ["cond"], ["y"], then_branch=branch(then_model, "then"),
                            else_branch=branch(else_model, "else"))
    m = helper.make_model(helper.make_graph([node], "if", [cond] + list(g.input), list(g.output)),
                          opset_imports=list(then_model.opset_import),
                          producer_name="vimconvert ops/testdata/make_attr_models.py")
    m.ir_version = then_model.ir_version
    return m


if __name__ == "__main__":
    main()
