#!/usr/bin/env python3
"""PyTorch (eager, CPU) training steps, timed like `mend bench models`, to run side by side:

  dcgan_train_step_b64    pytorch/examples DCGAN (nz 100, ngf = ndf = 64): D on a real batch (BCE 1) and on
                          G(z).detach() (BCE 0), Adam step on D; then G through D (BCE 1), Adam step on G
  srresnet_train_step_b16 SRResNet ×4 (16 blocks, BN, PReLU, pixel shuffle), 16 crops 24×24 → 96×96, MSE, Adam
  srgan_train_step_b16    the same plus the SRGAN discriminator (96×96): G loss MSE + 1e-3·BCE(D(G(lr)), 1),
                          D loss BCE(D(hr), 1) + BCE(D(G(lr).detach()), 0) (one G forward per step, as mend)

All models in training mode (batch statistics). Median of repeated steps after warm-up.
    python3 Tools/peer_train_step.py [--threads 2] [--budget 10] [--json]
Needs torch (pip install torch --index-url https://download.pytorch.org/whl/cpu).
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def dcgan(nz=100, ngf=64, ndf=64, nc=3):
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))  # logits (BCEWithLogits)
    return G, D


class Block(nn.Module):
    def __init__(self, c=64):
        super().__init__()
        self.c1, self.b1, self.p = nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.PReLU(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c)

    def forward(self, x):
        return x + self.b2(self.c2(self.p(self.b1(self.c1(x)))))


class SRResNet(nn.Module):
    def __init__(self, blocks=16):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, 64, 9, 1, 4), nn.PReLU(64))
        self.body = nn.Sequential(*[Block() for _ in range(blocks)])
        self.trunk = nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64))
        self.up = nn.Sequential(nn.Conv2d(64, 256, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(64),
                                nn.Conv2d(64, 256, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(64))
        self.tail = nn.Conv2d(64, 3, 9, 1, 4)

    def forward(self, x):
        h = self.head(x)
        h = h + self.trunk(self.body(h))
        return (torch.tanh(self.tail(self.up(h))) + 1) / 2


def srgan_discriminator(size=96):
    layers, cin = [], 3
    for i, c in enumerate([64, 64, 128, 128, 256, 256, 512, 512]):
        layers.append(nn.Conv2d(cin, c, 3, 2 if i % 2 else 1, 1))
        if i:
            layers.append(nn.BatchNorm2d(c, eps=1e-3))
        layers.append(nn.LeakyReLU(0.2))
        cin = c
    s = size // 16
    return nn.Sequential(*layers, nn.Conv2d(512, 1024, s), nn.LeakyReLU(0.2), nn.Conv2d(1024, 1, 1), nn.Flatten())


def timeit(step, budget):
    for _ in range(2):
        step()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < budget:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3, min(times) * 1e3, len(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    bce = nn.BCEWithLogitsLoss()
    cases = {}

    G, D = dcgan()
    oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    real = torch.rand(64, 3, 64, 64) * 2 - 1
    ones, zeros = torch.ones(64), torch.zeros(64)

    def dcgan_step():
        z = torch.randn(64, 100, 1, 1)
        oD.zero_grad(set_to_none=True)
        fake = G(z)
        (bce(D(real).view(-1), ones) + bce(D(fake.detach()).view(-1), zeros)).backward()
        oD.step()
        oG.zero_grad(set_to_none=True)
        bce(D(fake).view(-1), ones).backward()
        oG.step()
    cases["dcgan_train_step_b64"] = dcgan_step

    sr = SRResNet()
    oS = torch.optim.Adam(sr.parameters(), 1e-4)
    lr, hr = torch.rand(16, 3, 24, 24), torch.rand(16, 3, 96, 96)

    def srresnet_step():
        oS.zero_grad(set_to_none=True)
        F.mse_loss(sr(lr), hr).backward()
        oS.step()
    cases["srresnet_train_step_b16"] = srresnet_step

    Dsr = srgan_discriminator()
    oDs = torch.optim.Adam(Dsr.parameters(), 1e-4)
    o16, z16 = torch.ones(16, 1), torch.zeros(16, 1)

    def srgan_step():
        oS.zero_grad(set_to_none=True)
        out = sr(lr)
        (F.mse_loss(out, hr) + 1e-3 * bce(Dsr(out), o16)).backward()
        oDs.zero_grad(set_to_none=True)  # D's gradients from the G loss are discarded
        (bce(Dsr(hr), o16) + bce(Dsr(out.detach()), z16)).backward()
        oDs.step()
        oS.step()
    cases["srgan_train_step_b16"] = srgan_step

    for name, step in cases.items():
        if a.filter not in name:
            continue
        med, mn, n = timeit(step, a.budget)
        if a.json:
            print(json.dumps({"case": name, "device": "torch-cpu", "threads": a.threads, "median_ms": round(med, 2),
                              "min_ms": round(mn, 2), "runs": n, "torch": torch.__version__}))
        else:
            print(f"{name:26s} torch {torch.__version__} {a.threads} threads: median {med:9.1f} ms  min {mn:9.1f} ms  ({n} runs)")


if __name__ == "__main__":
    main()
