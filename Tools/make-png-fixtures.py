#!/usr/bin/env python3
"""Tiny PNG files of every colour type and bit depth, plus broken ones, for the Imaging tests.
Pure Python (zlib, struct): each image is 5x3 with a known pattern. Writes Tests/ImagingTests/Fixtures/."""
import os, struct, zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ImagingTests", "Fixtures")
W, H = 5, 3


def chunk(t, data):
    c = struct.pack(">I", len(data)) + t + data
    return c + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(color_type, depth, rows, plte=None, w=W, h=H, trns=None, interlace=False):
    if interlace:  # Adam7: seven reduced images, each row with its own filter byte
        bpp = len(rows[0]) // w
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            for y in range(y0, h, dy):
                px = [rows[y][x * bpp:(x + 1) * bpp] for x in range(x0, w, dx)]
                if px:
                    raw += b"\x00" + b"".join(px)
    else:
        raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if plte:
        out += chunk(b"PLTE", plte)
    if trns:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def rgb(x, y):  # the reference pattern, 8-bit
    return (x * 50, y * 100, 255 - x * 40)


def samples(vals, depth):
    return b"".join(struct.pack(">H", v * 257) if depth == 16 else bytes([v]) for v in vals)


def rows(fn, depth):
    return [b"".join(samples(fn(x, y), depth) for x in range(W)) for y in range(H)]


os.makedirs(OUT, exist_ok=True)
files = {
    "rgb8.png": png(2, 8, rows(lambda x, y: rgb(x, y), 8)),
    "rgb16.png": png(2, 16, rows(lambda x, y: rgb(x, y), 16)),
    "rgba8.png": png(6, 8, rows(lambda x, y: rgb(x, y) + ((x * 60) % 256,), 8)),
    "rgba16.png": png(6, 16, rows(lambda x, y: rgb(x, y) + ((x * 60) % 256,), 16)),
    "interlaced8.png": png(2, 8, rows(lambda x, y: rgb(x, y), 8), interlace=True),
    "interlaced-rgba16.png": png(6, 16, rows(lambda x, y: rgb(x, y) + ((x * 60) % 256,), 16), interlace=True),
    "gray8.png": png(0, 8, rows(lambda x, y: (x * 50,), 8)),
    "gray16.png": png(0, 16, rows(lambda x, y: (x * 50,), 16)),
    "graya8.png": png(4, 8, rows(lambda x, y: (x * 50, 255 if y == 0 else 0), 8)),
    "palette8.png": png(3, 8, [bytes([x % 3 for x in range(W)]) for _ in range(H)],
                        plte=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])),
    # Palette with tRNS: entry 0 (red) fully transparent, entry 1 (green) half, entry 2 (blue) opaque.
    "palettea8.png": png(3, 8, [bytes([x % 3 for x in range(W)]) for _ in range(H)],
                         plte=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]), trns=bytes([0, 128])),
}
good = files["rgb8.png"]
files["truncated.png"] = good[: len(good) - 20]
files["badcrc.png"] = good[:40] + bytes([good[40] ^ 0xFF]) + good[41:]
files["notpng.png"] = b"this is not a png at all"
files["huge.png"] = png(2, 8, [b"\x00\x00\x00"], w=100000, h=100000)
for name, data in files.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("wrote", len(files), "files to", os.path.normpath(OUT))
