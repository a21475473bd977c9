#!/usr/bin/env python3
"""Small JPEG and WebP fixtures (good, EXIF-rotated, CMYK, gray, truncated, corrupt, huge) for the
Imaging and CLI tests. Needs Pillow (`pip install pillow`); the EXIF orientations are checked against
Pillow's ImageOps.exif_transpose. Writes Tests/ImagingTests/Fixtures/."""
import io, os, struct
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ImagingTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
files = {}

# 32x16, quadrants: top-left red, top-right green, bottom-left blue, bottom-right white.
QUAD = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
quad = Image.new("RGB", (32, 16))
for y in range(16):
    for x in range(32):
        quad.putpixel((x, y), QUAD[(y >= 8) * 2 + (x >= 16)])


def jpeg(im, **kw):
    b = io.BytesIO()
    im.save(b, "JPEG", quality=95, **kw)
    return b.getvalue()


files["quad.jpg"] = jpeg(quad)
files["gray.jpg"] = jpeg(quad.convert("L"))
files["cmyk.jpg"] = jpeg(quad.convert("CMYK"))

# Stored pixels such that the upright image (after the EXIF orientation) is `quad`.
inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_270}
for o, t in inverse.items():
    exif = Image.Exif()
    exif[0x0112] = o
    data = jpeg(quad.transpose(t), exif=exif.tobytes())
    up = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert up.size == quad.size and all(
        max(abs(a - b) for a, b in zip(up.getpixel(p), quad.getpixel(p))) < 40 for p in [(4, 4), (28, 4), (4, 12), (28, 12)]), o
    files[f"orient{o}.jpg"] = data

good = files["quad.jpg"]
sos = good.index(b"\xff\xda")
files["truncated.jpg"] = good[: sos + (len(good) - sos) // 2]  # cut inside the entropy-coded data
files["corrupt.jpg"] = good[:2] + b"\xff\xc0\x00\x05garbage" + bytes(range(256)) * 2
# The frame header (SOF0) declares 60000 x 60000.
sof = good.index(b"\xff\xc0")
files["huge.jpg"] = good[: sof + 5] + struct.pack(">HH", 60000, 60000) + good[sof + 9:]

# 24x24 RGBA: colour ramps, alpha ramp left to right (0 … 253), lossless.
rgba = Image.new("RGBA", (24, 24))
for y in range(24):
    for x in range(24):
        rgba.putpixel((x, y), (x * 10, y * 10, 128, x * 11))
b = io.BytesIO()
rgba.save(b, "WEBP", lossless=True)
files["alpha.webp"] = b.getvalue()
b = io.BytesIO()
quad.save(b, "WEBP", quality=90)
files["quad.webp"] = b.getvalue()
files["truncated.webp"] = files["alpha.webp"][: len(files["alpha.webp"]) // 2]
# A lossless header declaring 16384 x 16384 (the VP8L maximum), no pixel data.
bits = 0x2F | (16383 << 8) | (16383 << 22)
vp8l = struct.pack("<Q", bits)[:5]
files["huge.webp"] = b"RIFF" + struct.pack("<I", 4 + 8 + len(vp8l) + 1) + b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l + b"\0"

for name, data in files.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("wrote", len(files), "files to", os.path.normpath(OUT))
