#!/usr/bin/python3
"""Writes runtime/preprocess/testdata: test images and what PIL + torchvision make of them.

Run with Debian's interpreter (python3-pil 9.4, python3-torchvision 0.14, python3-skimage):
    /usr/bin/python3 scripts/make-preprocess-fixtures.py [--all-crops] [OUT_DIR]

For every image under images/ and every recipe it is listed with, manifest.json records
the PIL mode and size after Image.open, the sha256 of the float32 tensor that
torchvision's eval transform produces (hustvl/Vim vim/datasets.py build_transform,
is_train=False: Resize(int(size / crop_pct), interpolation=3), CenterCrop(size),
ToTensor(), Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)) and the 8-bit crop
handed to ToTensor (its sha256, and for CROP_RECIPES the crop itself, crops/*.png). normalize.npy holds ToTensor + Normalize of
every byte value per channel. bad/ holds files PIL refuses, with PIL's message.
It also writes OUT_DIR/../imagenet1k.txt, the ImageNet-1k class names of torchvision.
"""
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import PIL
import skimage
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

MEAN = (0.485, 0.456, 0.406)  # timm IMAGENET_DEFAULT_MEAN, used by hustvl/Vim
STD = (0.229, 0.224, 0.225)
RECIPES = {  # name: (input_size, crop_pct)
    "vim224": (224, 0.875),  # hustvl/Vim defaults: resize 256
    "vim448": (448, 0.875),  # a 448 model: resize 512
    "timm64": (64, 1.0),     # MambaOut / timm eval with crop_pct 1.0, small
}
# Crops are committed for these recipes only (the others are checked by sha256; run with
# --all-crops into another directory to see every crop when a hash differs).
CROP_RECIPES = ["timm64"]
SKDATA = os.path.join(os.path.dirname(skimage.__file__), "data")


def pil_loader(path):
    # torchvision.datasets.folder.pil_loader: no EXIF rotation.
    with open(path, "rb") as f:
        img = Image.open(f)
        mode, size = img.mode, img.size
        return img.convert("RGB"), mode, size


def transforms(recipe):
    size, crop_pct = RECIPES[recipe]
    resize = int(size / crop_pct)
    geometric = T.Compose([T.Resize(resize, interpolation=3), T.CenterCrop(size)])
    tensor = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    return geometric, tensor


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_raw(path, array, color_type, trns=None):
    """Writes a 16-bit PNG from a uint16 array [H, W, C] (PIL cannot save these modes)."""
    h, w = array.shape[:2]
    rows = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))  # filter 0
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
    if trns is not None:
        data += png_chunk(b"tRNS", trns)
    data += png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def png_interlaced(path, array):
    """Writes an 8-bit RGB Adam7-interlaced PNG (PIL cannot save interlaced PNGs)."""
    h, w = array.shape[:2]
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = array[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + sub[y].tobytes() for y in range(sub.shape[0]))  # filter 0
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1))
    data += png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def png_header_only(w, h, idat=b""):
    """A PNG whose IHDR claims w x h (8-bit RGB) with little or no pixel data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(idat)) + png_chunk(b"IEND", b"")


def make_images(out):
    """Writes images/ and returns {file: [recipes]}."""
    d = os.path.join(out, "images")
    os.makedirs(d, exist_ok=True)
    small, big = ["vim224", "timm64"], ["vim224", "vim448", "timm64"]
    todo = {}

    def save(img, name, recipes, **kw):
        img.save(os.path.join(d, name), **kw)
        todo[name] = recipes

    # Real photos, as shipped (real encoders): rocket (JFIF + ICC), retina, hubble (Adobe marker).
    for name in ["rocket.jpg", "retina.jpg", "hubble_deep_field.jpg"]:
        shutil.copy(os.path.join(SKDATA, name), os.path.join(d, "photo_" + name))
        todo["photo_" + name] = small
    shutil.copy(os.path.join(SKDATA, "chelsea.png"), os.path.join(d, "photo_chelsea.png"))
    todo["photo_chelsea.png"] = small

    astro = Image.open(os.path.join(SKDATA, "astronaut.png")).convert("RGB")
    save(astro, "jpeg_420_q90.jpg", small, quality=90)
    save(astro, "jpeg_444_q95.jpg", small, quality=95, subsampling=0)
    save(astro, "jpeg_progressive.jpg", small, quality=85, progressive=True)
    save(astro.convert("L"), "jpeg_gray.jpg", small, quality=90)
    save(astro.convert("CMYK"), "jpeg_cmyk.jpg", small, quality=90)

    coffee = Image.open(os.path.join(SKDATA, "coffee.png")).convert("RGB").resize((240, 160), Image.BICUBIC)
    rgba = coffee.copy()
    alpha = Image.linear_gradient("L").resize(coffee.size)
    rgba.putalpha(alpha)
    save(rgba, "png_rgba.png", small)
    save(coffee.convert("L"), "png_gray.png", small)
    la = coffee.convert("L")
    la.putalpha(alpha)
    save(la.convert("LA"), "png_la.png", small)
    pal = coffee.quantize(colors=200)
    save(pal, "png_palette.png", small)
    save(pal, "png_palette_trns.png", small, transparency=7)
    pal_rgba = rgba.quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    save(pal_rgba, "png_palette_alpha.png", small)  # tRNS with one alpha per entry
    g16 = (np.asarray(coffee.convert("L"), dtype=np.uint16) * 3).astype(np.uint16)  # 0..765: PIL clips
    save(Image.fromarray(g16, mode="I;16"), "png_gray16.png", small)
    save(coffee.convert("1"), "png_bilevel.png", small)
    # 16-bit colour PNGs (PIL keeps the high byte) and 16-bit gray with tRNS (still mode I).
    small16 = coffee.resize((96, 64), Image.BICUBIC)  # 16-bit files are large: keep them small
    c16 = np.asarray(small16, dtype=np.uint16) * 257 + np.arange(64, dtype=np.uint16)[:, None, None]
    a16 = (np.asarray(alpha.resize((96, 64)), dtype=np.uint16) * 257)[:, :, None]
    g16s = np.asarray(small16.convert("L"), dtype=np.uint16) * 3
    for name, arr, ctype, trns in [
        ("png_rgb16.png", c16, 2, None),
        ("png_rgba16.png", np.concatenate([c16, a16], axis=2), 6, None),
        ("png_la16.png", np.concatenate([c16[:, :, :1], a16], axis=2), 4, None),
        ("png_gray16_trns.png", g16s[:, :, None], 0, struct.pack(">H", 300)),
    ]:
        png_raw(os.path.join(d, name), arr, ctype, trns)
        todo[name] = small
    png_interlaced(os.path.join(d, "png_interlaced.png"), np.asarray(small16.resize((101, 67), Image.BICUBIC)))
    todo["png_interlaced.png"] = small
    rgb_trns = coffee.copy()
    save(rgb_trns, "png_rgb_trns.png", small, transparency=(10, 20, 30))
    save(coffee.convert("L"), "png_gray_trns.png", small, transparency=40)
    save(pal, "gif_palette.gif", small)
    save(pal, "gif_palette_trns.gif", small, transparency=3)
    save(coffee, "bmp_rgb24.bmp", small)
    save(pal, "bmp_palette8.bmp", small)

    # Extreme shapes from the real photo (PNG lossless, JPEG through libjpeg).
    rocket = Image.open(os.path.join(SKDATA, "rocket.jpg")).convert("RGB")
    tiny = rocket.resize((7, 5), Image.BICUBIC)
    save(tiny, "tiny_7x5.png", big)
    save(tiny, "tiny_7x5.jpg", big, quality=90)
    wide = rocket.crop((0, 200, 640, 237)).resize((1000, 37), Image.BICUBIC)
    save(wide, "wide_1000x37.png", small)
    save(wide, "wide_1000x37.jpg", small, quality=90)
    save(wide.transpose(Image.ROTATE_90), "tall_37x1000.jpg", small, quality=90)
    save(Image.new("RGB", (1, 1), (200, 30, 90)), "one_pixel.png", small)
    # Odd sizes exercise torchvision's round-half-to-even crop offsets (257 - 224 = 33).
    save(rocket.resize((257, 301), Image.BICUBIC), "odd_257x301.png", small)
    return todo


def make_bad(out):
    """Writes bad/ and returns {file: PIL's error}."""
    d = os.path.join(out, "bad")
    os.makedirs(d, exist_ok=True)
    photo = open(os.path.join(SKDATA, "rocket.jpg"), "rb").read()
    pngdata = open(os.path.join(out, "images", "png_rgba.png"), "rb").read()
    files = {
        "truncated.jpg": open(os.path.join(SKDATA, "truncated.jpg"), "rb").read(),
        "truncated_half.jpg": photo[: len(photo) // 2],
        "truncated_half.png": pngdata[: len(pngdata) // 2],
        "text.jpg": b"this is a text file, not an image\n",
        "empty.png": b"",
        "bomb_60000x60000.png": png_header_only(60000, 60000),
        "zero_0x0.png": png_header_only(0, 0),
        "zero_width.png": png_header_only(0, 10),
    }
    result = {}
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        try:
            pil_loader(os.path.join(d, name))[0].load()
            result[name] = "PIL accepted it"
        except Exception as e:  # what PIL says, recorded for reference only
            result[name] = f"{type(e).__name__}: {e}"
    return result


def main():
    args = [a for a in sys.argv[1:] if a != "--all-crops"]
    all_crops = "--all-crops" in sys.argv[1:]
    out = args[0] if args else "runtime/preprocess/testdata"
    for sub in ["images", "crops", "bad"]:
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    os.makedirs(os.path.join(out, "crops"))
    todo = make_images(out)
    manifest = {
        "generator": "scripts/make-preprocess-fixtures.py",
        "versions": {"PIL": PIL.__version__, "torchvision": torchvision.__version__, "torch": torch.__version__},
        "mean": MEAN, "std": STD,
        "recipes": {k: {"input_size": s, "crop_pct": c, "resize_size": int(s / c)} for k, (s, c) in RECIPES.items()},
        "images": [],
    }
    for name in sorted(todo):
        rgb, mode, size = pil_loader(os.path.join(out, "images", name))
        entry = {"file": name, "pil_mode": mode, "width": size[0], "height": size[1], "results": {}}
        for recipe in todo[name]:
            geometric, tensor = transforms(recipe)
            crop = geometric(rgb)
            x = tensor(crop)
            assert x.dtype == torch.float32 and x.shape == (3, RECIPES[recipe][0], RECIPES[recipe][0])
            result = {
                "crop_sha256": hashlib.sha256(np.asarray(crop, dtype=np.uint8).tobytes()).hexdigest(),
                "tensor_sha256": hashlib.sha256(x.numpy().astype("<f4").tobytes()).hexdigest(),
            }
            if recipe in CROP_RECIPES or all_crops:
                result["crop"] = f"{os.path.splitext(name)[0]}_{os.path.splitext(name)[1][1:]}.{recipe}.png"
                crop.info.pop("transparency", None)  # P+tRNS -> RGB keeps it: no tRNS chunk
                crop.save(os.path.join(out, "crops", result["crop"]))
            entry["results"][recipe] = result
        manifest["images"].append(entry)
    # ToTensor + Normalize of every byte value: a 256 x 1 image whose pixel v is (v, v, v).
    ramp = Image.fromarray(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2), "RGB")
    table = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])(ramp)[:, 0, :].numpy()  # [3, 256]
    np.save(os.path.join(out, "normalize.npy"), table.astype("<f4"))
    manifest["bad"] = make_bad(out)
    # The class names shipped with the tool: Debian torchvision's ImageNet-1k list.
    from torchvision.models._meta import _IMAGENET_CATEGORIES
    assert len(_IMAGENET_CATEGORIES) == 1000
    with open(os.path.join(out, "..", "imagenet1k.txt"), "w") as f:
        f.write("".join(name + "\n" for name in _IMAGENET_CATEGORIES))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
