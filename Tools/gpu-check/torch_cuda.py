#!/usr/bin/env python3
"""PyTorch CUDA baseline for the GPU check (Tools/gpu-check/run.sh): the same cases as
`mend bench models` — DCGAN G and D forward at batch 1 and 64, one latent-search iteration
(G and D forward, weighted L1 + lambda*log(1 - D), backward to z, Adam on z, clamp) at batch 1
and 64, SRResNet 4x forward 64 -> 256 at batch 1 — in float32, eval mode (batch norm with running
statistics), cuDNN autotuning on, median of timed runs after warm-up, each run synchronised.
Random weights: timings do not depend on the values.

    python3 Tools/gpu-check/torch_cuda.py [--budget 3] [--json OUT.json] [--device cpu]   # cpu: a dry run
"""
import argparse, json, statistics, time
import torch
import torch.nn as nn


def dcgan_g(nz=100, ngf=64):
    c = lambda i, o, s, p: nn.ConvTranspose2d(i, o, 4, s, p, bias=False)
    return nn.Sequential(c(nz, ngf * 8, 1, 0), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
                         c(ngf * 8, ngf * 4, 2, 1), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                         c(ngf * 4, ngf * 2, 2, 1), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                         c(ngf * 2, ngf, 2, 1), nn.BatchNorm2d(ngf), nn.ReLU(True),
                         c(ngf, 3, 2, 1), nn.Tanh())


def dcgan_d(ndf=64):
    c = lambda i, o, s, p: nn.Conv2d(i, o, 4, s, p, bias=False)
    lr = lambda: nn.LeakyReLU(0.2, True)
    return nn.Sequential(c(3, ndf, 2, 1), lr(), c(ndf, ndf * 2, 2, 1), nn.BatchNorm2d(ndf * 2), lr(),
                         c(ndf * 2, ndf * 4, 2, 1), nn.BatchNorm2d(ndf * 4), lr(),
                         c(ndf * 4, ndf * 8, 2, 1), nn.BatchNorm2d(ndf * 8), lr(), c(ndf * 8, 1, 1, 0))


class Res(nn.Module):
    def __init__(self, n=64):
        super().__init__()
        self.b = nn.Sequential(nn.Conv2d(n, n, 3, 1, 1), nn.BatchNorm2d(n), nn.PReLU(n), nn.Conv2d(n, n, 3, 1, 1), nn.BatchNorm2d(n))

    def forward(self, x):
        return x + self.b(x)


class SRResNet(nn.Module):
    def __init__(self, n=64, blocks=16):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, n, 9, 1, 4), nn.PReLU(n))
        self.body = nn.Sequential(*[Res(n) for _ in range(blocks)], nn.Conv2d(n, n, 3, 1, 1), nn.BatchNorm2d(n))
        up = []
        for _ in range(2):
            up += [nn.Conv2d(n, n * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(n)]
        self.tail = nn.Sequential(*up, nn.Conv2d(n, 3, 9, 1, 4))

    def forward(self, x):
        h = self.head(x)
        return self.tail(h + self.body(h))


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timeit(fn, budget):
    for _ in range(3):
        fn()
    sync()
    ts, t_end = [], time.perf_counter() + budget
    while len(ts) < 5 or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts), len(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=3)
    ap.add_argument("--json")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(a.device)
    g, d, sr = dcgan_g().to(dev).eval(), dcgan_d().to(dev).eval(), SRResNet().to(dev).eval()
    for p in list(g.parameters()) + list(d.parameters()):
        p.requires_grad_(False)
    rows = []
    name = torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"

    def add(case, fn):
        med, mn, n = timeit(fn, a.budget)
        rows.append({"case": case, "median_ms": med, "min_ms": mn, "runs": n, "device": name, "torch": torch.__version__})
        print(f"{case:<12}{med:>10.3f} ms  (min {mn:.3f}, {n} runs)  {name}", flush=True)

    with torch.inference_mode():
        for b in (1, 64):
            z = torch.randn(b, 100, 1, 1, device=dev)
            add(f"G_fwd_b{b}", lambda z=z: g(z))
        for b in (1, 64):
            x = torch.randn(b, 3, 64, 64, device=dev)
            add(f"D_fwd_b{b}", lambda x=x: d(x))
        x = torch.rand(1, 3, 64, 64, device=dev)
        add("SR_fwd_b1", lambda: sr(x))
    for b in (1, 64):
        z = torch.randn(b, 100, 1, 1, device=dev).clamp_(-3, 3).requires_grad_(True)
        y = torch.rand(b, 3, 64, 64, device=dev) * 2 - 1
        w = torch.rand(b, 3, 64, 64, device=dev)
        opt = torch.optim.Adam([z], lr=0.03)

        def step(z=z, y=y, w=w, opt=opt):
            opt.zero_grad(set_to_none=True)
            x = g(z)
            ctx = (w * (x - y)).abs().flatten(1).sum(1)
            prior = torch.log1p(-torch.sigmoid(d(x)).flatten().clamp(max=1 - 1e-6))
            (ctx + 0.1 * prior).sum().backward()
            opt.step()
            with torch.no_grad():
                z.clamp_(-3, 3)
        add(f"z_iter_b{b}", step)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
