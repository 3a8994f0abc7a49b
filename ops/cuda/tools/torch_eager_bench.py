#!/usr/bin/env python3
"""PyTorch-eager baseline for the CUDA scan: a port of the official
mamba_ssm 1.1.1 `selective_scan_ref` (same computation: softplus(delta + bias),
deltaA = exp(delta A) and deltaB_u = delta B u materialised for all steps as
(b, d, l, n), then a Python loop over l; D skip; SiLU(z) gate; math in float32,
output cast back to the input dtype), composed into Vim's bimamba v2 scan the
way the official mixer does it: the backward direction runs on flipped inputs
and its output is flipped back; (out_f + out_b) / 2.

Usage:
  torch_eager_bench.py --verify FIXTURES_SCAN_DIR        (CPU is fine)
      checks the port against the official outputs in the fixtures
  torch_eager_bench.py --time [--json FILE] [--shapes a,b] [--dtypes fp32,fp16]
      times it on the GPU with CUDA events (warm-up, median)
"""
import argparse
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,)."""
    dtype_in = u.dtype
    u = u.float()
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    b, d, L = u.shape
    n = A.shape[1]
    B = B.float()
    C = C.float()
    state = A.new_zeros((b, d, n)).float()
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A.float()))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    ys = []
    for i in range(L):
        state = deltaA[:, :, i] * state + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", state, C[:, :, i]))
    y = torch.stack(ys, dim=2)  # (b, d, l)
    out = y if D is None else y + u * D.float()[:, None]
    if z is not None:
        out = out * F.silu(z.float())
    return out.to(dtype_in)


def bimamba_v2_scan(fw, bw, z, divide_out=True):
    """fw/bw: dicts with u, delta, A, B, C, D, delta_bias in the official (b, d, l)
    layout and ORIGINAL token order; z (b, d, l). Returns (b, d, l)."""
    out = selective_scan_ref(fw["u"], fw["delta"], fw["A"], fw["B"], fw["C"], fw["D"], z,
                             fw["delta_bias"], True)
    fl = lambda x: x.flip([-1])
    out_b = selective_scan_ref(fl(bw["u"]), fl(bw["delta"]), bw["A"], fl(bw["B"]), fl(bw["C"]),
                               bw["D"], fl(z), bw["delta_bias"], True)
    y = out + out_b.flip([-1])
    return y / 2 if divide_out else y


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def verify(scan_dir):
    failures = 0
    for fn in sorted(os.listdir(scan_dir)):
        if not fn.endswith(".pth"):
            continue
        d = torch.load(os.path.join(scan_dir, fn), map_location="cpu")
        if fn == "bimamba_v2_mixer.pth":
            dim = d["A"].shape[0]
            z = d["xz"][:, dim:, :]
            back = lambda x: x.flip([-1])  # stored flipped -> original order
            fw = dict(u=d["fwd.conv_out"], delta=d["fwd.delta_raw"], A=d["A"], B=d["fwd.B"],
                      C=d["fwd.C"], D=d["param.D"], delta_bias=d["param.dt_proj.bias"])
            bw = dict(u=back(d["bwd.conv_out"]), delta=back(d["bwd.delta_raw"]), A=d["A_b"],
                      B=back(d["bwd.B"]), C=back(d["bwd.C"]), D=d["param.D_b"],
                      delta_bias=d["param.dt_proj_b.bias"])
            got = bimamba_v2_scan(fw, bw, z).permute(0, 2, 1)  # (b, d, l) -> [B, L, D]
            want = d["combined"]
        else:
            got = selective_scan_ref(d["u"], d["delta"], d["A"], d["B"], d["C"], d["D"], d["z"],
                                     d["delta_bias"], True)
            want = d["out"]
        e = rel_l2(got, want)
        ok = e <= 1e-6
        failures += not ok
        print(f"{'ok' if ok else 'FAIL':5} {fn:32} rel_l2 vs official = {e:.2e}")
    return failures


SHAPES = {  # name: (B, L, d_inner); d_inner = 2 * d_model, L = (img/16)^2 + 1
    "vim-t-224": (1, 197, 384), "vim-s-224": (1, 197, 768), "vim-b-224": (1, 197, 1536),
    "vim-t-1248": (1, 6085, 384), "vim-s-1248": (1, 6085, 768), "vim-b-1248": (1, 6085, 1536),
    "vim-s-224-b8": (8, 197, 768),
}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def random_inputs(B, L, D, N, dtype, dev, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    U = lambda shape, lo, hi: (torch.rand(shape, generator=g) * (hi - lo) + lo)

    def direction():
        A = -torch.exp(U((D, N), torch.log(torch.tensor(0.5)).item(), torch.log(torch.tensor(16.0)).item()))
        return dict(u=U((B, D, L), -2, 2).to(dev, dtype), delta=U((B, D, L), -1, 1).to(dev, dtype),
                    A=A.to(dev), B=U((B, N, L), -1.5, 1.5).to(dev, dtype),
                    C=U((B, N, L), -1.5, 1.5).to(dev, dtype), D=U((D,), 0.5, 1.5).to(dev),
                    delta_bias=U((D,), -6, -1).to(dev))

    return direction(), direction(), U((B, D, L), -3, 3).to(dev, dtype)


def time_one(name, dtype_name, json_out):
    B, L, D = SHAPES[name]
    dev = torch.device("cuda")
    fw, bw, z = random_inputs(B, L, D, 16, DTYPES[dtype_name], dev, 1234)
    warm, reps = (1, 5) if L > 1000 else (3, 20)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with torch.no_grad():
        for i in range(warm + reps):
            start.record()
            y = bimamba_v2_scan(fw, bw, z)
            end.record()
            torch.cuda.synchronize()
            if i >= warm:
                times.append(start.elapsed_time(end))
    assert torch.isfinite(y.float()).all(), "non-finite output"
    med = statistics.median(times)
    print(f"eager {name:13} {dtype_name:4} B={B} L={L:<5} D={D:<5} median {med:10.2f} ms "
          f"(min {min(times):.2f}, {reps} runs)", flush=True)
    if json_out:
        json_out.write(json.dumps(dict(kind="eager", shape=name, dtype=dtype_name, B=B, L=L, D=D,
                                       ms_median=med, ms_min=min(times), reps=reps)) + "\n")
        json_out.flush()
    del fw, bw, z, y
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", metavar="SCAN_DIR")
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--dtypes", default="fp32,fp16,bf16")
    a = ap.parse_args()
    rc = 0
    if a.verify:
        rc |= 1 if verify(a.verify) else 0
    if a.time:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device")
        print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}", flush=True)
        out = open(a.json, "w") if a.json else None
        for s in a.shapes.split(","):
            for t in a.dtypes.split(","):
                time_one(s, t, out)
        if out:
            out.close()
    if not a.verify and not a.time:
        ap.print_help()
        rc = 2
    sys.exit(rc)


if __name__ == "__main__":
    main()
