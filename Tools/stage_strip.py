#!/usr/bin/env python3
"""The README's 64×64 strip from `mend complete ... --keep-intermediates DIR`: input, mask, G(ẑ) and
the blended result, each upscaled 2× (nearest), side by side with 2-pixel white gaps.

    python3 Tools/stage_strip.py DIR docs/complete-astronaut-64.png

Needs only numpy (8-bit, non-interlaced PNGs as mend writes them: gray, gray+alpha, RGB, RGBA)."""
import struct
import sys
import zlib

import numpy as np


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"stage_strip: {path} is not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
                sys.exit(f"stage_strip: {path}: only 8-bit non-interlaced gray/RGB(A) PNGs")
        elif kind == b"IDAT":
            idat += body
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), w * ch
    rows, prev = [], np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], np.uint8).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):  # PNG filters 0-4 (Paeth for 4)
            a = cur[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
        rows.append(cur)
        prev = cur
    img = np.array(rows, np.uint8).reshape(h, w, ch)
    return np.repeat(img[:, :, :1], 3, axis=2) if ch in (1, 2) else img[:, :, :3]


def write_png(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    tmp = path + ".tmp"
    open(tmp, "wb").write(png)
    import os
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: python3 Tools/stage_strip.py STAGES_DIR OUT.png")
    stages = sys.argv[1]
    names = ["1-input64", "2-mask64", "3-generated64", "4-inpainted64"]
    tiles = [np.repeat(np.repeat(read_png(f"{stages}/{n}.png"), 2, 0), 2, 1) for n in names]
    gap = np.full((tiles[0].shape[0], 2, 3), 255, np.uint8)
    parts = []
    for t in tiles:
        parts += [t, gap]
    write_png(sys.argv[2], np.concatenate(parts[:-1], axis=1))


if __name__ == "__main__":
    main()
