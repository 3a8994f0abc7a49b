#!/usr/bin/env python3
"""Loads the plugin into the Python onnxruntime and runs the single-op test
models of ops/testdata on every provider available, comparing each with the
PyTorch port of the official reference (torch_eager_bench.py). With the CPU-only
onnxruntime wheel this checks that the CUDA-enabled plugin loads and that its
CPU ops still run; where CUDAExecutionProvider is available it is the
end-to-end check of the CUDA ops (the profile names the provider that ran the node).

Usage: ort_check.py PLUGIN_SO TESTDATA_DIR
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_eager_bench import bimamba_v2_scan, selective_scan_ref  # noqa: E402

SIZES = {"batch": 2, "seqlen": 150, "dim": 40, "dstate": 16}


def make_feeds(sess, rng):
    feeds = {}
    for i in sess.get_inputs():
        shape = [SIZES[d] if isinstance(d, str) else d for d in i.shape]
        base = i.name[:-2] if i.name.endswith(("_f", "_b")) else i.name
        lo, hi = {"u": (-2, 2), "delta": (-1, 1), "B": (-1.5, 1.5), "C": (-1.5, 1.5),
                  "D": (0.5, 1.5), "delta_bias": (-6, -1), "z": (-3, 3), "A": (0.7, 2.7)}[base]
        x = rng.uniform(lo, hi, size=shape).astype(np.float32)
        if base == "A":
            x = -np.exp(x).astype(np.float32)
        feeds[i.name] = x
    return feeds


def reference(feeds, bidir, divide):
    t = {k: torch.from_numpy(v) for k, v in feeds.items()}
    bdl = lambda x: x.permute(0, 2, 1)  # [B, L, C] -> (b, c, l)
    def direction(s):
        return dict(u=bdl(t["u" + s]), delta=bdl(t["delta" + s]), A=t["A" + s], B=bdl(t["B" + s]),
                    C=bdl(t["C" + s]), D=t["D" + s], delta_bias=t["delta_bias" + s])
    if bidir:
        y = bimamba_v2_scan(direction("_f"), direction("_b"), bdl(t["z"]), divide)
    else:
        f = direction("")
        y = selective_scan_ref(f["u"], f["delta"], f["A"], f["B"], f["C"], f["D"], bdl(t["z"]),
                               f["delta_bias"], True)
    return y.permute(0, 2, 1).numpy()


def node_provider(profile_path):
    with open(profile_path) as f:
        events = json.load(f)
    for e in events:
        args = e.get("args", {})
        if args.get("op_name") in ("SelectiveScanBidirectional", "SelectiveScan"):
            return args.get("provider", "?")
    return "?"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    plugin, testdata = sys.argv[1], sys.argv[2]
    print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}")
    cases = [("scan_bidirectional.onnx", True, True), ("scan_bidirectional_sum.onnx", True, False),
             ("scan_unidirectional.onnx", False, False)]
    rng = np.random.default_rng(5)
    failures = 0
    for prov in [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in ort.get_available_providers()]:
        for name, bidir, divide in cases:
            so = ort.SessionOptions()
            so.register_custom_ops_library(plugin)
            so.enable_profiling = True
            so.profile_file_prefix = f"/tmp/vc_ort_{prov}_{name}"
            sess = ort.InferenceSession(os.path.join(testdata, name), so, providers=[prov])
            feeds = make_feeds(sess, rng)
            y = sess.run(None, feeds)[0]
            ran_on = node_provider(sess.end_profiling())
            ref = reference(feeds, bidir, divide)
            rel = float(np.linalg.norm(y.astype(np.float64) - ref) / np.linalg.norm(ref))
            ok = np.isfinite(y).all() and rel <= 1e-5
            failures += not ok
            print(f"{'ok' if ok else 'FAIL':5} {prov:22} {name:30} node ran on {ran_on:22} "
                  f"rel_l2 vs reference {rel:.2e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
