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
from PIL import Image, PngImagePlugin
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


def png_short_plte(path, w, h):
    """An 8-bit palette PNG whose pixels index past its 4-entry PLTE (PIL reads the
    grey ramp its palette starts as there; a decoder may fill black)."""
    idx = (np.arange(w * h).reshape(h, w) * 7 % 256).astype(np.uint8)
    rows = b"".join(b"\x00" + r.tobytes() for r in idx)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
    data += png_chunk(b"PLTE", bytes([10, 20, 30, 200, 100, 50, 0, 255, 0, 9, 9, 9]))
    data += png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def png_bad_crc(img, chunk):
    """img as a PNG with a tEXt chunk before its image data, the CRC of chunk broken."""
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "crc test")
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    data = bytearray(buf.getvalue())
    pos = data.index(chunk)
    data[pos + 4 + struct.unpack(">I", data[pos - 4:pos])[0]] ^= 0xFF
    return bytes(data)


def png_header_only(w, h, idat=b""):
    """A PNG whose IHDR claims w x h (8-bit RGB) with little or no pixel data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(idat)) + png_chunk(b"IEND", b"")


def bmp_file(w, h, bits, rows, palette=b"", compression=0, header=40, top_down=False, masks=None, colors=0):
    """A BMP from stored rows (file order, already padded or RLE-coded): the variants
    PIL reads but cannot all write (16/32-bit bitfields, OS/2, RLE, top-down, 4-bit)."""
    data = b"".join(rows)
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", header, w, -h if top_down else h, 1, bits, compression, len(data), 2835, 2835, colors, 0)
        if header >= 52 and masks:
            info += struct.pack("<IIII", *masks)
        info += b"\0" * (header - len(info))
        if header == 40 and masks:  # a 40-byte header's bitfields follow it
            info += struct.pack("<III", *masks[:3])
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def bmp_pad(row):
    return row + b"\0" * (-len(row) % 4)


def bmp_rle(rows, rle4):
    """RLE8/RLE4 of index rows (bottom-up order given), mixing encoded runs, absolute
    runs of odd length (word alignment), a delta and end-of-line/end-of-bitmap."""
    out = []
    for y, r in enumerate(rows):
        o, i = b"", 0
        while i < len(r):
            j = i
            while j < len(r) and r[j] == r[i] and j - i < 255:
                j += 1
            if j - i >= 3 or len(r) - i < 5:
                o += bytes([j - i, r[i] * 17 if rle4 else r[i]])
                i = j
            else:  # absolute run of 5 pixels
                px = list(r[i:i + 5])
                o += bytes([0, 5]) + (bytes((px[k] << 4) | (px[k + 1] if k + 1 < 5 else 0) for k in range(0, 5, 2)) if rle4 else bytes(px))
                i += 5
        out.append(o + (b"\0\1" if y == len(rows) - 1 else b"\0\0"))
    return out


def gif_frame_at(img, canvas, at, **kw):
    """A one-frame GIF of img whose logical screen is canvas (w, h) and whose frame sits
    at (x, y): a canvas the frame does not cover, or one it reaches past."""
    buf = io.BytesIO()
    img.save(buf, "GIF", **kw)
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", *canvas)
    pos = data.index(b"\x2c", 13 + 3 * (2 << (data[10] & 7)))  # the image descriptor
    data[pos + 1:pos + 5] = struct.pack("<HH", *at)
    return bytes(data)


def make_bmps(d, small, src):
    """Writes the BMP variants of src (RGB, small) into d; returns their names."""
    w, h = src.size
    rgb = np.asarray(src, dtype=np.uint8)
    rng = np.random.default_rng(7)
    up = lambda rows: rows[::-1]  # bottom-up file order
    names = {}
    c5 = (rgb.astype(np.uint16) * 31 + 127) // 255
    v555 = (c5[:, :, 0] << 10 | c5[:, :, 1] << 5 | c5[:, :, 2]).astype("<u2")
    g6 = (rgb[:, :, 1].astype(np.uint16) * 63 + 127) // 255
    v565 = (c5[:, :, 0] << 11 | g6 << 5 | c5[:, :, 2]).astype("<u2")
    bgr = rgb[:, :, ::-1]
    alpha = rng.integers(0, 256, (h, w, 1), dtype=np.uint8)
    bgra = np.concatenate([bgr, alpha], axis=2)
    xbgr = np.concatenate([alpha, bgr], axis=2)
    pal = src.quantize(colors=16)
    idx = np.asarray(pal, dtype=np.uint8)
    pal4 = b"".join(bytes((b, g, r, 0)) for r, g, b in np.asarray(pal.getpalette()[:48]).reshape(16, 3))
    pal2 = bytes((40, 200, 10, 0, 250, 30, 120, 0))
    bits1 = (np.asarray(src.convert("L")) > 128).astype(np.uint8)
    pack4 = lambda r: bytes((r[i] << 4) | (r[i + 1] if i + 1 < len(r) else 0) for i in range(0, len(r), 2))
    pal8 = b"".join(bytes((i, 255 - i, (i * 7) % 256, 0)) for i in range(256))
    pal8_os2 = b"".join(bytes((i, (i * 3) % 256, 255 - i)) for i in range(256))
    idx8 = (idx * 16 + 3).astype(np.uint8)
    files = {
        "bmp_16_555.bmp": bmp_file(w, h, 16, up([bmp_pad(r.tobytes()) for r in v555])),
        "bmp_16_565_bitfields.bmp": bmp_file(w, h, 16, up([bmp_pad(r.tobytes()) for r in v565]), compression=3, masks=(0xF800, 0x7E0, 0x1F, 0)),
        "bmp_32_bitfields.bmp": bmp_file(w, h, 32, up([r.tobytes() for r in bgra]), compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0)),
        "bmp_32_v5_alpha.bmp": bmp_file(w, h, 32, up([r.tobytes() for r in bgra]), compression=3, header=124, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)),
        "bmp_32_v4_xbgr.bmp": bmp_file(w, h, 32, up([r.tobytes() for r in xbgr]), compression=3, header=108, masks=(0xFF000000, 0xFF0000, 0xFF00, 0)),
        "bmp_24_topdown.bmp": bmp_file(w, h, 24, [bmp_pad(r.tobytes()) for r in bgr], top_down=True),
        "bmp_4bit.bmp": bmp_file(w, h, 4, up([bmp_pad(pack4(r)) for r in idx]), pal4, colors=16),
        "bmp_1bit_colour.bmp": bmp_file(w, h, 1, up([bmp_pad(np.packbits(r).tobytes()) for r in bits1]), pal2, colors=2),
        "bmp_os2_8bit.bmp": bmp_file(w, h, 8, up([bmp_pad(r.tobytes()) for r in idx8]), pal8_os2, header=12),
        "bmp_8bit_short_palette.bmp": bmp_file(w, h, 8, up([bmp_pad(r.tobytes()) for r in idx8]), pal8[:4 * 20], colors=20),
        "bmp_rle8.bmp": bmp_file(w, h, 8, bmp_rle(up(idx8), False), pal8, compression=1, colors=256),
        "bmp_rle4.bmp": bmp_file(w, h, 4, bmp_rle(up(idx), True), pal4, compression=2, colors=16),
    }
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        names[name] = small
    return names


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
    todo.update(make_bmps(d, small, coffee.resize((41, 29), Image.BICUBIC)))
    png_short_plte(os.path.join(d, "png_palette_short_plte.png"), 37, 23)
    todo["png_palette_short_plte.png"] = small
    gpal = coffee.resize((30, 20), Image.BICUBIC).quantize(colors=16)
    for name, canvas, at, kw in [
        ("gif_frame_inside.gif", (50, 40), (7, 9), {}),  # PIL fills the rest with index 0
        ("gif_frame_inside_trns.gif", (50, 40), (7, 9), {"transparency": 2}),  # ... with the transparent index
        ("gif_frame_beyond.gif", (20, 15), (4, 3), {}),  # PIL enlarges the canvas to 34x23
    ]:
        with open(os.path.join(d, name), "wb") as f:
            f.write(gif_frame_at(gpal, canvas, at, **kw))
        todo[name] = small
    # A damaged IDAT CRC: PIL checks the CRCs before the image data only and reads on.
    with open(os.path.join(d, "png_bad_idat_crc.png"), "wb") as f:
        f.write(png_bad_crc(coffee.resize((37, 23), Image.BICUBIC), b"IDAT"))
    todo["png_bad_idat_crc.png"] = small
    # No colour table at all: PIL opens mode L, each index its own grey level.
    data = gif_frame_at(gpal, (30, 20), (0, 0))
    table = 3 * (2 << (data[10] & 7))
    with open(os.path.join(d, "gif_no_colour_table.gif"), "wb") as f:
        f.write(data[:10] + bytes([data[10] & 0x70]) + data[11:13] + data[13 + table:])
    todo["gif_no_colour_table.gif"] = small

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
    bmpdata = open(os.path.join(out, "images", "bmp_16_555.bmp"), "rb").read()
    files = {
        "truncated.jpg": open(os.path.join(SKDATA, "truncated.jpg"), "rb").read(),
        "truncated_half.jpg": photo[: len(photo) // 2],
        "truncated_half.png": pngdata[: len(pngdata) // 2],
        "text.jpg": b"this is a text file, not an image\n",
        "empty.png": b"",
        "bomb_60000x60000.png": png_header_only(60000, 60000),
        "zero_0x0.png": png_header_only(0, 0),
        "zero_width.png": png_header_only(0, 10),
        "png_bad_text_crc.png": png_bad_crc(Image.new("RGB", (4, 3), (9, 99, 199)), b"tEXt"),
        "bmp_truncated.bmp": bmpdata[: len(bmpdata) // 2],
        "bmp_2bit.bmp": bmp_file(4, 2, 2, [b"\x1b\0\0\0"] * 2, bytes(16), colors=4),
        "bmp_rle8_early_end.bmp": bmp_file(4, 2, 8, [b"\x04\x05\0\1"], bytes(1024), compression=1, colors=256),
        "bmp_header52.bmp": bmp_file(4, 2, 24, [bytes(12)] * 2, header=52),
        "bmp_jpeg_compression.bmp": bmp_file(4, 2, 24, [bytes(12)] * 2, compression=4),
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
