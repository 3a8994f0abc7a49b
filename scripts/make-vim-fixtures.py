#!/usr/bin/python3
"""Golden fixtures for every hustvl/Vim registry variant, from the official model code.

Usage (Debian's interpreter: torch 1.13 on CPU, no timm/einops/triton/transformers):

    /usr/bin/python3 scripts/make-vim-fixtures.py VIM_CHECKOUT OUT_DIR [NAME ...]
    /usr/bin/python3 scripts/make-vim-fixtures.py VIM_CHECKOUT --selftest [SHARED_FIXTURES]

VIM_CHECKOUT is a checkout of github.com/hustvl/Vim; the fixtures in
/work/extra-fixtures were made from commit dd0358ad1e42701f22afbefa0717cc8825cf9f45
(the same as ../shared/fixtures; the sha256 of every official file used is recorded
in OUT_DIR/manifest.json). The model code run here IS that checkout's
vim/models_mamba.py with its bundled mamba-1p1p1/mamba_ssm and causal-conv1d: the
script imports them from VIM_CHECKOUT. Only what cannot run on a CPU-only Debian
torch is stood in for, by code written here:

* einops: rearrange/repeat for the patterns the official code uses;
* timm: register_model (recording the registry), _cfg, to_2tuple, DropPath,
  trunc_normal_ (torch.nn.init.trunc_normal_, the same algorithm as timm 0.4.12)
  and lecun_normal_ (timm's variance scaling: fan-in, truncated normal);
* triton, transformers: import-only (their kernels/classes are never called);
* selective_scan_cuda.fwd: the official selective_scan_ref (fp32), returning
  (out, last states, out * SiLU(z)) like the CUDA kernel;
* causal_conv1d_cuda.causal_conv1d_fwd: the official causal_conv1d_ref;
* the Triton launcher _layer_norm_fwd of mamba_ssm/ops/triton/layer_norm.py,
  replaced by pure torch with the kernel's semantics (inputs and residual loaded
  as fp32, the sum stored as the residual dtype, y = x * rsqrt(mean(x^2) + eps) * w
  stored as the input dtype), so the official LayerNormFn/rms_norm_fn glue runs.

--selftest checks the stand-ins against the official references (max difference
0), the whole mixer against an independent fp64 loop, and, given the shared
fixtures directory, that this oracle reproduces ../shared/fixtures/vim_t: its
expected logits from its checkpoint, and its checkpoint from its seeds
(1011/1012) with the recipe below.

Fixtures (model built by calling the registry function with main.py's
create_model kwargs num_classes=1000, drop_rate=0, drop_path_rate=0,
img_size=224; full depth):

| name          | registry entry                                         | batch | seeds (init, perturb, input) |
| vim_s         | vim_small_patch16_224_..._midclstok_div2               | 2     | 2011, 2012, 2013 |
| vim_b         | vim_base_patch16_224_..._middle_cls_token_div2         | 2     | 2021, 2022, 2023 |
| vim_s_stride8 | vim_small_patch16_stride8_224_..._midclstok_div2       | 1     | 2031, 2032, 2033 |
| vim_t_stride8 | vim_tiny_patch16_stride8_224_..._midclstok_div2        | 1     | 2041, 2042, 2043 |

Weights: torch.manual_seed(init) before construction, then every parameter in
named_parameters() order gets p += N(0, s) from torch.Generator().manual_seed(perturb):
s = 0.25 for A_log/A_b_log and D/D_b, 0.5 for dt_proj(_b).bias, 0.1 for norm
weights, 0.02 otherwise (the recipe of ../shared/fixtures/README.md). Input: x =
torch.randn(B, 3, 224, 224, generator=torch.Generator().manual_seed(input)).

Each OUT_DIR/NAME holds checkpoint.pth ({'model': state_dict}), input.pth
({'x'}) and expected.pth ({logits, logits_fp64, features, features_fp64}).
The fp64 outputs come from model.double() with the scan and the fused add+norm
kept in float64 (a high-precision reference; the official kernels compute those
in fp32).
"""
import ast
import copy
import hashlib
import json
import math
import os
import sys
import time
import types

import torch
import torch.nn.functional as F

VIM_COMMIT = "dd0358ad1e42701f22afbefa0717cc8825cf9f45"
OFFICIAL_FILES = [
    "vim/models_mamba.py",
    "mamba-1p1p1/mamba_ssm/modules/mamba_simple.py",
    "mamba-1p1p1/mamba_ssm/ops/selective_scan_interface.py",
    "mamba-1p1p1/mamba_ssm/ops/triton/layer_norm.py",
    "causal-conv1d/causal_conv1d/causal_conv1d_interface.py",
]
CREATE_MODEL_KWARGS = dict(num_classes=1000, drop_rate=0.0, drop_path_rate=0.0, img_size=224)
FIXTURES = {  # name: (registry entry, batch, (seed_init, seed_perturb, seed_input))
    "vim_s": ("vim_small_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 2, (2011, 2012, 2013)),
    "vim_b": ("vim_base_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_middle_cls_token_div2", 2, (2021, 2022, 2023)),
    "vim_s_stride8": ("vim_small_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 1, (2031, 2032, 2033)),
    "vim_t_stride8": ("vim_tiny_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 1, (2041, 2042, 2043)),
}
# Registry entries ../shared/fixtures covers at full depth (vim_t).
SHARED_FULL_DEPTH = {"vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2"}


# ---------------------------------------------------------------- einops stand-in

def _parse_side(side):
    """'b (g h) 1 l' -> [['b'], ['g', 'h'], [], ['l']] ('1' is an empty group)."""
    groups, cur = [], None
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            cur = []
        elif tok == ")":
            groups.append(cur)
            cur = None
        elif cur is not None:
            if tok != "1":
                cur.append(tok)
        else:
            groups.append([] if tok == "1" else [tok])
    return groups


def _einops(t, pattern, sizes, allow_new):
    left, right = (_parse_side(s) for s in pattern.split("->"))
    if ["..."] in left:  # the ellipsis stands for the leading/inner dims it covers
        i = left.index(["..."])
        names = [[f"_e{k}"] for k in range(t.dim() - len(left) + 1)]
        left = left[:i] + names + left[i + 1:]
        j = right.index(["..."])
        right = right[:j] + names + right[j + 1:]
    if len(left) != t.dim():
        raise ValueError(f"pattern {pattern!r} does not fit shape {tuple(t.shape)}")
    known = dict(sizes)
    for group, dim in zip(left, t.shape):
        unknown = [n for n in group if n not in known]
        prod = math.prod(known[n] for n in group if n in known)
        if len(unknown) == 1:
            known[unknown[0]] = dim // prod
        elif unknown or prod != dim:
            raise ValueError(f"pattern {pattern!r}: cannot split dim {dim}")
    lnames = [n for g in left for n in g]
    rnames = [n for g in right for n in g]
    new = [n for n in rnames if n not in lnames]
    if (new and not allow_new) or any(n not in rnames for n in lnames):
        raise ValueError(f"pattern {pattern!r}: axes differ")
    x = t.reshape([known[n] for n in lnames])
    x = x.permute([lnames.index(n) for n in rnames if n in lnames])
    for k, n in enumerate(rnames):
        if n in new:
            x = x.unsqueeze(k)
    x = x.expand([known[n] for n in rnames])
    return x.reshape([math.prod(known[n] for n in g) for g in right])


def _einops_module():
    m = types.ModuleType("einops")
    m.rearrange = lambda t, pattern, **sizes: _einops(t, pattern, sizes, False)
    m.repeat = lambda t, pattern, **sizes: _einops(t, pattern, sizes, True)
    return m


# ------------------------------------------------------------------ timm stand-in

REGISTRY = []


def _register_model(fn):
    REGISTRY.append(fn.__name__)
    return fn


def _lecun_normal_(tensor):
    # timm variance_scaling_(scale 1, fan_in, truncated_normal): the std of a
    # normal truncated at +-2 std is 0.87962566 of the untruncated one.
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(tensor)
    return torch.nn.init.trunc_normal_(tensor, std=math.sqrt(1.0 / fan_in) / 0.87962566103423978)


class _DropPath(torch.nn.Module):
    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


def _timm_modules():
    timm, models = types.ModuleType("timm"), types.ModuleType("timm.models")
    vt = types.ModuleType("timm.models.vision_transformer")
    vt.VisionTransformer = type("VisionTransformer", (torch.nn.Module,), {})
    vt._cfg = lambda url="", **kw: dict(url=url, num_classes=1000, input_size=(3, 224, 224), **kw)

    def _load_weights(*a, **kw):
        raise NotImplementedError("timm _load_weights is not part of this stand-in")
    vt._load_weights = _load_weights
    registry = types.ModuleType("timm.models.registry")
    registry.register_model = _register_model
    layers = types.ModuleType("timm.models.layers")
    layers.trunc_normal_ = torch.nn.init.trunc_normal_
    layers.lecun_normal_ = _lecun_normal_
    layers.DropPath = _DropPath
    layers.to_2tuple = lambda x: tuple(x) if isinstance(x, (tuple, list)) else (x, x)
    timm.models, models.vision_transformer, models.registry, models.layers = models, vt, registry, layers
    return {m.__name__: m for m in (timm, models, vt, registry, layers)}


# ------------------------------------------------- import-only triton, transformers

class _Anything:
    """Stands for any triton.language attribute (annotations, dtypes)."""

    def __init__(self, *a, **kw):
        self.kw = kw
        self.num_warps = kw.get("num_warps", 4)

    def __getattr__(self, name):
        return _Anything()

    def __call__(self, *a, **kw):
        return _Anything()


def _triton_modules():
    triton, tl = types.ModuleType("triton"), types.ModuleType("triton.language")
    tl.__getattr__ = lambda name: _Anything()
    triton.language = tl
    triton.jit = lambda fn=None, **kw: fn if fn is not None else (lambda f: f)
    triton.autotune = lambda *a, **kw: (lambda f: f)
    triton.heuristics = lambda *a, **kw: (lambda f: f)
    triton.Config = _Anything
    triton.next_power_of_2 = lambda n: 1 << (int(n) - 1).bit_length()
    return {"triton": triton, "triton.language": tl}


def _transformers_modules():
    tr = types.ModuleType("transformers")
    gen = types.ModuleType("transformers.generation")
    for name in ("GreedySearchDecoderOnlyOutput", "SampleDecoderOnlyOutput", "TextStreamer"):
        setattr(gen, name, type(name, (), {}))
    utils, hub = types.ModuleType("transformers.utils"), types.ModuleType("transformers.utils.hub")
    utils.WEIGHTS_NAME, utils.CONFIG_NAME = "pytorch_model.bin", "config.json"

    def cached_file(*a, **kw):
        raise NotImplementedError("transformers is import-only here")
    hub.cached_file = cached_file
    tr.generation, tr.utils, utils.hub = gen, utils, hub
    return {m.__name__: m for m in (tr, gen, utils, hub)}


# ------------------------------------------------------------- CUDA kernel stand-ins

class _KeepF64(torch.Tensor):
    """A float64 tensor whose .float() keeps float64: runs the official fp32
    reference code in double precision for the fp64 outputs."""

    def float(self):
        return self


def _selective_scan_fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """selective_scan_cuda.fwd: (out, last states, out * SiLU(z)); B and C
    arrive as (b, 1, n, l) from the official glue."""
    ssi = sys.modules["mamba_ssm.ops.selective_scan_interface"]
    f64 = u.dtype == torch.float64
    args = [u, delta, A, B, C, D, None, delta_bias]
    if f64:
        args = [None if a is None else a.double().as_subclass(_KeepF64) for a in args]
    out, last = ssi.selective_scan_ref(*args, delta_softplus=delta_softplus, return_last_state=True)
    out_z = None
    if z is not None:  # the last lines of selective_scan_ref, applied to out
        zz = z.double().as_subclass(_KeepF64) if f64 else z
        out_z = (out * F.silu(zz)).to(dtype=u.dtype)
    plain = [None if t is None else t.as_subclass(torch.Tensor) for t in (out, last, out_z)]
    # the kernel's x holds (b, d, chunks, 2n) with the states at odd positions
    x = torch.zeros(plain[1].shape[:2] + (1, 2 * plain[1].shape[2]), dtype=plain[1].dtype)
    x[:, :, 0, 1::2] = plain[1]
    return plain[0], x, plain[2]


def _causal_conv1d_fwd(x, weight, bias, seq_idx, initial_states, final_states_out, silu):
    cci = sys.modules["causal_conv1d.causal_conv1d_interface"]
    if seq_idx is not None or initial_states is not None or final_states_out is not None:
        raise NotImplementedError("causal_conv1d_fwd stand-in: only the plain call is served")
    return cci.causal_conv1d_ref(x, weight, bias, activation="silu" if silu else None)


def _layer_norm_fwd(x, weight, bias, eps, residual=None, x1=None, weight1=None, bias1=None,
                    dropout_p=0.0, rowscale=None, out_dtype=None, residual_dtype=None,
                    is_rms_norm=False, return_dropout_mask=False):
    """Pure-torch _layer_norm_fwd_1pass_kernel launch, same return tuple."""
    if x1 is not None or weight1 is not None or dropout_p > 0.0 or rowscale is not None:
        raise NotImplementedError("_layer_norm_fwd stand-in: x1/weight1/dropout/rowscale")
    if residual is not None:
        residual_dtype = residual.dtype
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    if acc == torch.float64 and residual_dtype is not None:
        residual_dtype = torch.float64  # fp64 reference: no fp32 residual
    s = x.to(acc)
    if residual is not None:
        s = s + residual.to(acc)
    store_res = residual is not None or (residual_dtype is not None and residual_dtype != x.dtype)
    residual_out = s.to(residual_dtype if residual_dtype is not None else x.dtype) if store_res else None
    if is_rms_norm:
        mean = None
        rstd = 1 / torch.sqrt(s.square().mean(dim=-1, keepdim=True) + eps)
        xhat = s * rstd
    else:
        mean = s.mean(dim=-1, keepdim=True)
        rstd = 1 / torch.sqrt((s - mean).square().mean(dim=-1, keepdim=True) + eps)
        xhat = (s - mean) * rstd
        mean = mean.squeeze(-1)
    y = xhat * weight.to(acc)
    if bias is not None:
        y = y + bias.to(acc)
    y = y.to(x.dtype if out_dtype is None else out_dtype)
    return (y, None, mean, rstd.squeeze(-1), residual_out if residual_out is not None else x,
            None, None, None)


# ------------------------------------------------------------------ import official

def import_official(checkout):
    """Installs the stand-ins and returns the official models_mamba module."""
    missing = [f for f in OFFICIAL_FILES if not os.path.isfile(os.path.join(checkout, f))]
    if missing:
        sys.exit(f"{checkout} is not a hustvl/Vim checkout: missing {', '.join(missing)}")
    mods = {"einops": _einops_module()}
    mods.update(_timm_modules())
    mods.update(_triton_modules())
    mods.update(_transformers_modules())
    ssc, ccc = types.ModuleType("selective_scan_cuda"), types.ModuleType("causal_conv1d_cuda")
    ssc.fwd = _selective_scan_fwd
    ccc.causal_conv1d_fwd = _causal_conv1d_fwd
    mods.update(selective_scan_cuda=ssc, causal_conv1d_cuda=ccc)
    for name, m in mods.items():
        if name in sys.modules:
            sys.exit(f"{name} is already imported: run with /usr/bin/python3 (no {name} installed)")
        sys.modules[name] = m
    for sub in ("vim", "mamba-1p1p1", "causal-conv1d"):
        sys.path.insert(0, os.path.join(checkout, sub))
    import mamba_ssm.ops.triton.layer_norm as ln
    ln._layer_norm_fwd = _layer_norm_fwd
    import models_mamba
    return models_mamba


# --------------------------------------------------------------------- fixtures

def perturb_scale(name):
    leaf = name.rsplit(".", 2)
    if name.endswith(("A_log", "A_b_log")) or leaf[-1] in ("D", "D_b"):
        return 0.25
    if name.endswith(("dt_proj.bias", "dt_proj_b.bias")):
        return 0.5
    if name.endswith(("norm.weight", "norm_f.weight")):
        return 0.1
    return 0.02


def build(mm, registry_name, seed_init, seed_perturb):
    torch.manual_seed(seed_init)
    model = getattr(mm, registry_name)(pretrained=False, **CREATE_MODEL_KWARGS)
    g = torch.Generator().manual_seed(seed_perturb)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=g) * perturb_scale(name))
            if p.numel() > 1 and p.unique().numel() < 2:
                raise AssertionError(f"{name} is constant after perturbation")
    return model.eval()


def run(model, x):
    with torch.no_grad():
        feats = model(x, return_features=True)
        return model.head(feats), feats


def file_entry(path, root):
    data = open(path, "rb").read()
    return {"path": os.path.relpath(path, root), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def stats(t):
    return {"mean": t.mean().item(), "std": t.std().item(), "max_abs": t.abs().max().item()}


def effective_config(model, x):
    pe, mixer = model.patch_embed, model.layers[0].mixer
    m = pe.num_patches
    return {
        "embed_dim": model.embed_dim, "depth": len(model.layers), "d_state": mixer.d_state,
        "d_inner": mixer.d_inner, "dt_rank": mixer.dt_rank, "bimamba_type": mixer.bimamba_type,
        "if_divide_out": mixer.if_divide_out, "patch_size": list(pe.patch_size),
        "stride": pe.proj.stride[0], "img_size": list(pe.img_size), "grid_size": list(pe.grid_size),
        "num_patches": m, "seq_len": m + model.num_tokens, "cls_token_position": m // 2,
        "num_classes": model.head.out_features,
        "param_count": sum(p.numel() for p in model.parameters()),
        "batch": x.shape[0],
    }


def make_fixture(mm, out_root, name):
    registry_name, batch, (s_init, s_perturb, s_input) = FIXTURES[name]
    t0 = time.time()
    model = build(mm, registry_name, s_init, s_perturb)
    x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(s_input))
    logits, feats = run(model, x)
    logits64, feats64 = run(copy.deepcopy(model).double(), x.double())
    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    torch.save({"model": model.state_dict()}, os.path.join(d, "checkpoint.pth"))
    torch.save({"x": x.contiguous()}, os.path.join(d, "input.pth"))
    exp = {"logits": logits, "logits_fp64": logits64, "features": feats, "features_fp64": feats64}
    torch.save({k: v.detach().clone().contiguous() for k, v in exp.items()}, os.path.join(d, "expected.pth"))
    entry = {
        "registry_name": registry_name,
        "constructor": f"models_mamba.{registry_name}(pretrained=False, **{CREATE_MODEL_KWARGS})",
        "seeds": {"init": s_init, "perturb": s_perturb, "input": s_input},
        "effective_config": effective_config(model, x),
        "files": [file_entry(os.path.join(d, f), out_root) for f in ("checkpoint.pth", "input.pth", "expected.pth")],
        "stats": {"logits": stats(logits), "features": stats(feats)},
        "noise_floor_fp32_vs_fp64_max_abs": {
            "logits": (logits.double() - logits64).abs().max().item(),
            "features": (feats.double() - feats64).abs().max().item(),
        },
        "seconds": round(time.time() - t0, 1),
    }
    print(f"{name}: {registry_name}, {entry['effective_config']['param_count']} params, "
          f"noise floor logits {entry['noise_floor_fp32_vs_fp64_max_abs']['logits']:.2e}, {entry['seconds']} s",
          flush=True)
    return entry


def registry_kwargs(checkout):
    """The keyword arguments each @register_model function passes to VisionMamba."""
    tree = ast.parse(open(os.path.join(checkout, "vim/models_mamba.py")).read())
    out = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and any(getattr(d, "id", "") == "register_model" for d in fn.decorator_list):
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "VisionMamba":
                    out[fn.name] = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    return out


def write_manifest(checkout, out_root, entries):
    path = os.path.join(out_root, "manifest.json")
    manifest = json.load(open(path)) if os.path.exists(path) else {"fixtures": {}}
    manifest["generator"] = "scripts/make-vim-fixtures.py (official hustvl/Vim code imported from the checkout)"
    manifest["vim_commit"] = VIM_COMMIT
    manifest["official_file_sha256"] = {
        f: hashlib.sha256(open(os.path.join(checkout, f), "rb").read()).hexdigest() for f in OFFICIAL_FILES}
    manifest["torch"] = torch.__version__
    manifest["registry"] = registry_kwargs(checkout)
    manifest["fixtures"].update(entries)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------------- self-test

def _naive_direction(x, conv_w, conv_b, x_proj, dt_w, dt_b, A, D, z):
    """One direction of a v2 mixer in fp64, written out: x, z [B, E, L]."""
    L = x.shape[-1]
    xc = F.silu(F.conv1d(F.pad(x, (conv_w.shape[-1] - 1, 0)), conv_w, conv_b, groups=x.shape[1]))
    dbl = torch.einsum("rE,bEl->brl", x_proj, xc)
    r, n = dt_w.shape[1], A.shape[1]
    dt = F.softplus(torch.einsum("Er,brl->bEl", dt_w, dbl[:, :r]) + dt_b[:, None])
    Bm, Cm = dbl[:, r:r + n], dbl[:, r + n:]
    h = torch.zeros(x.shape[0], x.shape[1], n, dtype=x.dtype)
    ys = []
    for t in range(L):
        h = torch.exp(dt[:, :, t, None] * A) * h + (dt[:, :, t] * xc[:, :, t])[:, :, None] * Bm[:, None, :, t]
        ys.append((h * Cm[:, None, :, t]).sum(-1) + D * xc[:, :, t])
    return torch.stack(ys, -1) * F.silu(z)


def selftest(mm, shared):
    import mamba_ssm.ops.selective_scan_interface as ssi
    import mamba_ssm.ops.triton.layer_norm as ln
    from mamba_ssm.modules.mamba_simple import Mamba
    ein = sys.modules["einops"]
    g = torch.Generator().manual_seed(7)
    r = lambda *s: torch.randn(*s, generator=g)
    results = {}

    def check(name, a, b, bound=0.0):
        if a.shape != b.shape:
            raise AssertionError(f"{name}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
        diff = (a.double() - b.double()).abs().max().item()
        results[name] = (diff, bound)
        print(f"{'ok  ' if diff <= bound else 'FAIL'} {diff:.3g} (bound {bound:g}) {name}", flush=True)

    t, flat = r(2, 6, 5), r(6, 10)
    for pattern, src, kw, want in [
        ("b l d -> d (b l)", t, {}, t.permute(2, 0, 1).reshape(5, 12)),
        ("b d l -> b l d", t, {}, t.transpose(1, 2)),
        ("b d l -> (b l) d", t, {}, t.transpose(1, 2).reshape(10, 6)),
        ("d (b l) -> b d l", flat, {"l": 5}, flat.reshape(6, 2, 5).permute(1, 0, 2)),
    ]:
        check(f"einops rearrange {pattern!r}", ein.rearrange(src, pattern, **kw), want)
    bl = r(12, 4)
    check("einops '(b l) dstate -> b 1 dstate l'", ein.rearrange(bl, "(b l) dstate -> b 1 dstate l", l=6),
          bl.reshape(2, 6, 4).transpose(1, 2).unsqueeze(1))
    check("einops 'd -> d 1'", ein.rearrange(t[0, :, 0], "d -> d 1"), t[0, :, :1])
    check("einops 'd 1 w -> d w'", ein.rearrange(t[:, :1], "d 1 w -> d w"), t[:, 0])
    check("einops repeat 'n -> d n'", ein.repeat(t[0, 0], "n -> d n", d=3), t[0, 0].expand(3, 5))
    g4 = r(2, 1, 4, 6)
    check("einops repeat 'B G N L -> B (G H) N L'", ein.repeat(g4, "B G N L -> B (G H) N L", H=3), g4.expand(2, 3, 4, 6))

    b, e, n, L = 2, 24, 16, 37
    u, delta, z = r(b, e, L), r(b, e, L), r(b, e, L)
    A, D, dbias = -torch.exp(r(e, n) * 0.3), r(e), r(e)
    Bv, Cv = r(b, 1, n, L), r(b, 1, n, L)
    out, xs, out_z = sys.modules["selective_scan_cuda"].fwd(u, delta, A, Bv, Cv, D, z, dbias, True)
    ref_z, last = ssi.selective_scan_ref(u, delta, A, Bv, Cv, D, z, dbias, True, return_last_state=True)
    check("selective_scan_cuda.fwd stand-in out_z vs official selective_scan_ref(z)", out_z, ref_z)
    check("selective_scan_cuda.fwd stand-in out vs official selective_scan_ref(z=None)", out,
          ssi.selective_scan_ref(u, delta, A, Bv, Cv, D, None, dbias, True))
    check("stand-in last state (x[..., 1::2]) vs official ref", xs[:, :, -1, 1::2], last)
    o64, _, oz64 = sys.modules["selective_scan_cuda"].fwd(*(a.double() for a in (u, delta, A, Bv, Cv, D, z, dbias)), True)
    check("scan fp32 vs fp64 (noise floor)", out_z, oz64, 1e-5)

    w, cb = r(e, 4), r(e)
    check("causal_conv1d_fwd stand-in vs official causal_conv1d_ref",
          sys.modules["causal_conv1d_cuda"].causal_conv1d_fwd(u, w, cb, None, None, None, True),
          sys.modules["causal_conv1d.causal_conv1d_interface"].causal_conv1d_ref(u, w, cb, activation="silu"))

    hx, res, nw = r(2, 9, 48), r(2, 9, 48), r(48)
    y, resid = ln.rms_norm_fn(hx, nw, None, residual=res, prenorm=True, residual_in_fp32=True, eps=1e-5)
    y_ref, res_ref = ln.rms_norm_ref(hx, nw, None, residual=res, prenorm=True, eps=1e-5, upcast=True)
    check("official rms_norm_fn (stand-in launcher) vs official rms_norm_ref: y", y, y_ref)
    check("official rms_norm_fn (stand-in launcher) vs official rms_norm_ref: residual", resid, res_ref)
    y0, res0 = ln.rms_norm_fn(hx, nw, None, residual=None, prenorm=True, residual_in_fp32=True, eps=1e-5)
    check("rms_norm_fn with residual=None returns its input as the residual", res0, hx)
    if res0.dtype != torch.float32:
        raise AssertionError("residual_in_fp32 ignored")

    torch.manual_seed(8)
    mixer = Mamba(48, d_state=16, layer_idx=0, bimamba_type="v2", if_divide_out=True).eval()
    with torch.no_grad():
        for name, p in mixer.named_parameters():
            p.add_(torch.randn(p.shape, generator=g) * perturb_scale("mixer." + name))
        hs = r(2, 29, 48)
        got = mixer(hs)
        P = {k: v.double() for k, v in mixer.state_dict().items()}
        xz = torch.einsum("ed,bld->bel", P["in_proj.weight"], hs.double())
        x_, z_ = xz.chunk(2, dim=1)
        fwd = _naive_direction(x_, P["conv1d.weight"], P["conv1d.bias"], P["x_proj.weight"], P["dt_proj.weight"],
                               P["dt_proj.bias"], -torch.exp(P["A_log"]), P["D"], z_)
        bwd = _naive_direction(x_.flip(-1), P["conv1d_b.weight"], P["conv1d_b.bias"], P["x_proj_b.weight"],
                               P["dt_proj_b.weight"], P["dt_proj_b.bias"], -torch.exp(P["A_b_log"]), P["D_b"], z_.flip(-1))
        want = torch.einsum("de,ble->bld", P["out_proj.weight"], ((fwd + bwd.flip(-1)) / 2).transpose(1, 2))
    check("official v2 mixer (fast path, stand-ins) vs independent fp64 loop", got, want, 1e-5)

    if shared:
        sd = torch.load(os.path.join(shared, "vim_t", "checkpoint.pth"), map_location="cpu")["model"]
        x = torch.load(os.path.join(shared, "vim_t", "input.pth"))["x"]
        exp = torch.load(os.path.join(shared, "vim_t", "expected.pth"))
        name = "vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2"
        rebuilt = build(mm, name, 1011, 1012)
        worst = max((rebuilt.state_dict()[k] - v).abs().max().item() for k, v in sd.items())
        results["shared vim_t checkpoint rebuilt from seeds 1011/1012"] = (worst, 0.0)
        print(f"{'ok  ' if worst == 0 else 'FAIL'} {worst:.3g} shared vim_t checkpoint rebuilt from seeds 1011/1012", flush=True)
        rebuilt.load_state_dict(sd)
        logits, feats = run(rebuilt, x)
        # Two fp32 evaluations of the same math (different op order somewhere in
        # the stand-ins) differ by about the fp32-vs-fp64 noise floor: bound both
        # the distance to the shared fp32 outputs and to the fp64 ones by twice it.
        floor = json.load(open(os.path.join(shared, "manifest.json")))["fixtures"]["vim_t"]["noise_floor_fp32_vs_fp64_max_abs"]
        check("shared vim_t: logits of this oracle vs its expected logits", logits, exp["logits"], 2 * floor["logits"])
        check("shared vim_t: logits of this oracle vs its logits_fp64", logits, exp["logits_fp64"], 2 * floor["logits"])
        check("shared vim_t: features of this oracle vs its expected features", feats, exp["features"], 2 * floor["features"])
        check("shared vim_t: features of this oracle vs its features_fp64", feats, exp["features_fp64"], 2 * floor["features"])
        l64, _ = run(copy.deepcopy(rebuilt).double(), x.double())
        check("shared vim_t: fp64 logits of this oracle vs its logits_fp64", l64, exp["logits_fp64"], 1e-6)
    return results


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    checkout = argv[0]
    # One thread: the same results (checked) and far faster on a shared machine.
    torch.set_num_threads(int(os.environ.get("FIXTURE_THREADS", "1")))
    mm = import_official(checkout)
    print("registry:", ", ".join(REGISTRY), flush=True)
    if argv[1] == "--selftest":
        res = selftest(mm, argv[2] if len(argv) > 2 else "")
        bad = [k for k, (diff, bound) in res.items() if not diff <= bound]
        print(f"{len(res) - len(bad)}/{len(res)} checks within their bound", flush=True)
        sys.exit(1 if bad else 0)
    out_root, names = argv[1], argv[2:] or list(FIXTURES)
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        sys.exit(f"unknown fixture {unknown}: one of {list(FIXTURES)}")
    uncovered = [n for n in REGISTRY if n not in SHARED_FULL_DEPTH and n not in {v[0] for v in FIXTURES.values()}]
    if uncovered:
        sys.exit(f"registry entries with no fixture here: {uncovered}")
    os.makedirs(out_root, exist_ok=True)
    for n in names:
        write_manifest(checkout, out_root, {n: make_fixture(mm, out_root, n)})


if __name__ == "__main__":
    main(sys.argv[1:])
