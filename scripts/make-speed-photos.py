#!/usr/bin/python3
"""Writes 100 JPEG photos for measuring `vimconvert classify` speed (not committed).

Usage: /usr/bin/python3 scripts/make-speed-photos.py OUT_DIR

Each photo is a seeded random crop (60-100% of each side) of one of the colour
photographs shipped with python3-skimage, resized with PIL's bicubic filter so
that its long side is 500 pixels (the typical size of an ImageNet validation
image) and saved as a baseline 4:2:0 JPEG at quality 90.
"""
import os
import random
import sys

from PIL import Image
import skimage.data

SOURCES = ["astronaut", "chelsea", "coffee", "hubble_deep_field", "retina", "rocket", "motorcycle_left", "immunohistochemistry"]


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = random.Random(12)
    imgs = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in SOURCES
            if hasattr(skimage.data, name)]
    for i in range(100):
        img = imgs[i % len(imgs)]
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = img.crop((x, y, x + cw, y + ch))
        scale = 500 / max(cw, ch)
        crop = crop.resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.BICUBIC)
        crop.save(os.path.join(out, "photo_%03d.jpg" % i), quality=90)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
