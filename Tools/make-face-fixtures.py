#!/usr/bin/env python3
"""Reference detections for the FaceDetection tests, from OpenCV's own
cv2.CascadeClassifier.detectMultiScale2 on haarcascade_frontalface_default.xml (opencv-data).

Needs opencv-python-headless 4.x (OpenCV 5's main wheel no longer has CascadeClassifier), numpy
and Pillow:
    python3 -m venv /tmp/cvvenv && /tmp/cvvenv/bin/pip install 'opencv-python-headless<5' numpy pillow
    /tmp/cvvenv/bin/python Tools/make-face-fixtures.py

Images (all with clear licences): docs/example/astronaut-face.png (a crop of NASA's public-domain
photo of Eileen Collins); the same face shrunk to 40% of a 256x256 gray canvas at an offset
(written as Fixtures/astronaut-canvas.png, to test position and scale); docs/faces-seed1.png
(faces drawn by mend's own MIT-licensed DCGAN). Writes Tests/FaceDetectionTests/Fixtures/faces.json:
per image, cascade and parameter set, the grouped rectangles [x, y, w, h, neighbours] and the raw
(ungrouped, minNeighbors=0) rectangle count. The raw rectangles themselves are kept for the
astronaut, where the Swift detector is expected to reproduce them exactly."""
import json, os
import cv2
import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "FaceDetectionTests", "Fixtures")
HAAR = "/usr/share/opencv4/haarcascades/"
CASCADE = HAAR + "haarcascade_frontalface_default.xml"
os.makedirs(OUT, exist_ok=True)
assert int(cv2.__version__.split(".")[0]) == 4, "needs OpenCV 4.x (cv2.CascadeClassifier)"
cascade = cv2.CascadeClassifier(CASCADE)
assert not cascade.empty(), CASCADE
# Two more cascades exercise the other code paths: alt2 has trees of 2-3 nodes; eye_tree_eyeglasses
# has trees and tilted (45°) features.
others = {n: cv2.CascadeClassifier(HAAR + n) for n in ["haarcascade_frontalface_alt2.xml", "haarcascade_eye_tree_eyeglasses.xml"]}

# 40% of 256 = 102 px face, at (120, 48): away from the centre and from the pyramid's grid.
face = Image.open(os.path.join(ROOT, "docs/example/astronaut-face.png")).convert("RGB")
canvas = Image.new("RGB", (256, 256), (128, 128, 128))
canvas.paste(face.resize((102, 102), Image.BILINEAR), (120, 48))
canvas.save(os.path.join(OUT, "astronaut-canvas.png"), optimize=True)

images = {
    "docs/example/astronaut-face.png": os.path.join(ROOT, "docs/example/astronaut-face.png"),
    "astronaut-canvas.png": os.path.join(OUT, "astronaut-canvas.png"),
    "docs/faces-seed1.png": os.path.join(ROOT, "docs/faces-seed1.png"),
}
params = [dict(scaleFactor=1.1, minNeighbors=3, minSize=30), dict(scaleFactor=1.2, minNeighbors=5, minSize=24)]


def gray(path):
    # cv2.imread gives BGR; the detector converts with cvtColor(BGR2GRAY), as detectMultiScale does.
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)


cases = []
for name, path in images.items():
    g = gray(path)
    for p in params:
        s = (p["minSize"], p["minSize"])
        rects, neighbours = cascade.detectMultiScale2(g, scaleFactor=p["scaleFactor"], minNeighbors=p["minNeighbors"], minSize=s)
        raw = cascade.detectMultiScale(g, scaleFactor=p["scaleFactor"], minNeighbors=0, minSize=s)
        raw = sorted([list(map(int, r)) for r in raw])
        case = dict(image=name, width=g.shape[1], height=g.shape[0], **p,
                    expected=sorted([list(map(int, r)) + [int(n)] for r, n in zip(rects, neighbours)]),
                    rawCount=len(raw))
        if name.endswith("astronaut-face.png"):
            case["raw"] = raw
        cases.append(case)
        print(name, p, "->", case["expected"], "raw", len(raw))
    for cname, c in others.items():
        rects, neighbours = c.detectMultiScale2(g, scaleFactor=1.1, minNeighbors=3, minSize=(20, 20))
        raw = c.detectMultiScale(g, scaleFactor=1.1, minNeighbors=0, minSize=(20, 20))
        case = dict(image=name, cascade=cname, width=g.shape[1], height=g.shape[0], scaleFactor=1.1, minNeighbors=3, minSize=20,
                    expected=sorted([list(map(int, r)) + [int(n)] for r, n in zip(rects, neighbours)]), rawCount=len(raw))
        cases.append(case)
        print(name, cname, "->", case["expected"], "raw", len(raw))

# Nothing on flat or noise images (the Swift tests check their own, the same kind).
rng = np.random.default_rng(1)
for g in [np.full((128, 128), 128, np.uint8), rng.integers(0, 256, (128, 128), dtype=np.uint8)]:
    assert len(cascade.detectMultiScale(g, 1.1, 3, minSize=(30, 30))) == 0

with open(os.path.join(OUT, "faces.json"), "w") as f:
    json.dump(dict(opencv=cv2.__version__, cascade=os.path.basename(CASCADE), cases=cases), f, indent=1)
    f.write("\n")
