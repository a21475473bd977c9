#!/usr/bin/env python3
"""Side-by-side picture of inpainting results saved by `mend eval inpaint --out DIR`:
one row per face: masked input | OpenCV Navier-Stokes | the saved results named by --columns | original,
each 64x64 shown at 3x (nearest neighbour), with a header.

    python3 Tools/inpaint-pictures.py DIR OUT.png [--columns KEY=LABEL,...] [STEM ...]

KEY is a result's file suffix (DIR/STEM.KEY.png): mend, mendz (with --tune-generator: mend is the tuned
result, mendz the search's), avgK (with --average-grid K). Default: mendz=mend,mend=mend + tuning.

Needs numpy, Pillow and opencv-python-headless.
"""
import glob, os, sys
import numpy as np
import cv2
from PIL import Image, ImageDraw

S = 3


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    d, out = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    spec = "mendz=mend,mend=mend + tuning"
    if rest and rest[0] == "--columns":
        spec, rest = rest[1], rest[2:]
    keys = [tuple(c.split("=", 1)) for c in spec.split(",")]
    stems = rest or sorted(os.path.basename(p)[:-len(".image.png")] for p in glob.glob(os.path.join(d, "*.image.png")))
    cols = ["masked", "OpenCV NS"] + [label for _, label in keys] + ["original"]
    W, H, top = 64 * S, 64 * S, 18
    pic = Image.new("RGB", (W * len(cols), top + H * len(stems)), (255, 255, 255))
    dr = ImageDraw.Draw(pic)
    for c, name in enumerate(cols):
        dr.text((c * W + 4, 3), name, fill=(0, 0, 0))
    for r, s in enumerate(stems):
        base = os.path.join(d, s)
        img = Image.open(base + ".image.png").convert("RGB")
        mask = Image.open(base + ".mask.png").convert("L")
        masked = img.copy()
        masked.paste((128, 128, 128), mask=mask)
        u8 = np.asarray(img)[..., ::-1].copy()
        ns = Image.fromarray(cv2.inpaint(u8, (np.asarray(mask) >= 128).astype(np.uint8) * 255, 3, cv2.INPAINT_NS)[..., ::-1].copy())
        ims = [masked, ns] + [Image.open(f"{base}.{k}.png").convert("RGB") for k, _ in keys] + [img]
        for c, im in enumerate(ims):
            pic.paste(im.resize((W, H), Image.NEAREST), (c * W, top + r * H))
    pic.save(out)


if __name__ == "__main__":
    main()
