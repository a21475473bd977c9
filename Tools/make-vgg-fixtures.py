#!/usr/bin/env python3
"""Fixtures for the VGG19 converter and model (Tests/ModelsTests/Fixtures/tiny_vgg19*): a network
with torchvision's VGG19 `features` layout (16 3×3 convolutions, ReLU, 5 max pools; same module
indices, so the same state-dict keys) but only 4–8 channels, saved by PyTorch in both checkpoint
formats (zip and legacy), with a classifier entry the converter must drop; and its relu2_2 and
relu5_4 outputs on a 2×3×32×32 input after ImageNet normalisation, computed by PyTorch.

Needs torch (not numpy-only like the other tools):  python3 Tools/make-vgg-fixtures.py
"""
import os
import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelsTests", "Fixtures")
CFG = [4, 4, "M", 6, 6, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M"]


def features():
    layers, cin = [], 3
    for v in CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    return nn.Sequential(*layers)


def main():
    torch.manual_seed(0)
    f = features().double()
    for m in f:
        if isinstance(m, nn.Conv2d):  # He init, non-zero biases: every channel alive and biased
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, -0.1, 0.1)
    sd = {f"features.{k}": v.float() for k, v in f.state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(5, 8)
    torch.save(sd, os.path.join(OUT, "tiny_vgg19.pth"))
    torch.save(sd, os.path.join(OUT, "tiny_vgg19_legacy.pth"), _use_new_zipfile_serialization=False)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    # The float32 weights, evaluated in float64.
    f.load_state_dict({k[len("features."):]: v.double() for k, v in sd.items() if k.startswith("features.")})
    with torch.no_grad():
        h = (x.float().double() - mean) / std
        outs = {}
        for i, m in enumerate(f):
            h = m(h)
            if i == 8:
                outs["relu22"] = h.clone()
            if i == 35:
                outs["relu54"] = h.clone()
    np.save(os.path.join(OUT, "tiny_vgg19_in.npy"), x.float().numpy())
    for k, v in outs.items():
        np.save(os.path.join(OUT, f"tiny_vgg19_{k}.npy"), v.float().numpy())
    print("fixtures written to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
