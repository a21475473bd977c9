#!/usr/bin/env python3
"""OpenCV inpainting baselines (Telea 2004 and Navier-Stokes, radius 3) on the images and masks
that `mend eval inpaint|complete --out DIR` saved, scored with the same metrics as mend: masked
PSNR (hole pixels, RGB, 8-bit) and masked SSIM (Y of BT.601, 11x11 Gaussian windows, sigma 1.5,
averaged over windows centred on hole pixels). Every saved result (mend, mend64bicubic, meanfill)
is scored too, so the table compares all methods on identical inputs.

    python3 -m venv /tmp/cv && /tmp/cv/bin/pip install opencv-python-headless numpy pillow
    /tmp/cv/bin/python Tools/opencv_baseline.py DIR
"""
import glob, os, sys
import numpy as np
import cv2
from PIL import Image


def load(p):
    return np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) / 255.0


def luma(im):
    return 16 + 65.481 * im[..., 0] + 128.553 * im[..., 1] + 24.966 * im[..., 2]


def masked_psnr(a, b, m):
    qa, qb = np.round(a * 255) / 255, np.round(b * 255) / 255
    d = (qa - qb)[m]
    se = float((d ** 2).sum())
    return float("inf") if se == 0 else 10 * np.log10(d.size / se)


def ssim_map(x, y):
    r = 5
    g = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * 1.5 ** 2)); g /= g.sum()

    def blur(v):
        h, w = v.shape
        t = np.stack([(v[:, i:i + w - 2 * r]) for i in range(2 * r + 1)], 0)
        t = np.tensordot(g, t, axes=(0, 0))
        t2 = np.stack([(t[i:i + h - 2 * r, :]) for i in range(2 * r + 1)], 0)
        return np.tensordot(g, t2, axes=(0, 0))

    mx, my = blur(x), blur(y)
    sx, sy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sx + sy + c2))


def masked_ssim(a, b, m):
    qa, qb = np.round(a * 255) / 255, np.round(b * 255) / 255
    mp = ssim_map(luma(qa), luma(qb))
    mh, mw = mp.shape
    ys, xs = np.nonzero(m)
    return float(mp[np.clip(ys - 5, 0, mh - 1), np.clip(xs - 5, 0, mw - 1)].mean())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    stems = sorted(p[:-len(".image.png")] for p in glob.glob(os.path.join(d, "*.image.png")))
    if not stems:
        sys.exit(f"{d}: no *.image.png (run mend eval ... --out {d} first)")
    methods, rows = None, []
    for s in stems:
        img = load(s + ".image.png")
        mask = np.asarray(Image.open(s + ".mask.png").convert("L")) >= 128
        u8 = np.round(img * 255).astype(np.uint8)[..., ::-1].copy()
        m8 = mask.astype(np.uint8) * 255
        res = {"opencv_telea": cv2.inpaint(u8, m8, 3, cv2.INPAINT_TELEA)[..., ::-1] / 255.0,
               "opencv_ns": cv2.inpaint(u8, m8, 3, cv2.INPAINT_NS)[..., ::-1] / 255.0}
        for p in sorted(glob.glob(s + ".*.png")):
            k = p[len(s) + 1:-4]
            if k not in ("image", "mask"):
                res[k] = load(p)
        methods = methods or sorted(res)
        rows.append((os.path.basename(s), img.shape, {k: (masked_psnr(v, img, mask), masked_ssim(v, img, mask)) for k, v in res.items()}))
    print(f"# opencv {cv2.__version__}; masked PSNR dB / masked SSIM")
    print(f"{'image':<24}{'size':<10}" + "".join(f"{k:>18}" for k in methods))
    for name, shape, sc in rows:
        print(f"{name:<24}{shape[1]}x{shape[0]:<6}" + "".join(f"{sc[k][0]:>9.2f} / {sc[k][1]:.4f}" for k in methods))
    print(f"{'mean':<34}" + "".join(f"{np.mean([r[2][k][0] for r in rows]):>9.2f} / {np.mean([r[2][k][1] for r in rows]):.4f}" for k in methods))


if __name__ == "__main__":
    main()
