#!/usr/bin/env python3
"""Batch-1 DCGAN G and D forward: onnxruntime (CPU EP) and mend alternating, round by round.

This machine has minutes-long slow spells, so two benchmarks run minutes apart are not comparable.
Here each round times onnxruntime's G_fwd_b1 and D_fwd_b1 (sessions kept warm in this process),
then runs `mend bench models --filter _fwd_b1 --json` once; a slow spell then hits both alike.
Printed per round: median and min (ms) of each; at the end, per case and runtime, the median of
the round medians and of the round minimums.

    python3 Tools/ab_batch1_ort.py [--mend .build/release/mend] [--rounds 6] [--threads 2] [--budget 2]

Needs torch, onnx and onnxruntime (the peer venv of ../shared/peer/README.md) and the shared peer
models (../shared/peer/models.py: pytorch/examples DCGAN, nz 100, ngf = ndf = 64).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "shared", "peer")
sys.path.insert(0, PEER)
from models import DCGANDiscriminator, DCGANGenerator  # noqa: E402

import onnxruntime as ort  # noqa: E402


def export(model, example, path):
    kw = dict(input_names=["inp"], output_names=["out"], opset_version=17)
    try:
        torch.onnx.export(model, (example,), path, dynamo=False, **kw)
    except TypeError:
        torch.onnx.export(model, (example,), path, **kw)


def timeit(fn, budget):
    for _ in range(2):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mend", default=os.path.join(HERE, "..", ".build", "release", "mend"))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=2.0)
    args = ap.parse_args()

    torch.manual_seed(0)
    G, D = DCGANGenerator().eval(), DCGANDiscriminator().eval()
    tmp = tempfile.mkdtemp(prefix="ab_b1_")
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sessions, inputs = {}, {}
    with torch.no_grad():
        for name, m, ex in [("G_fwd_b1", G, torch.randn(1, 100, 1, 1)), ("D_fwd_b1", D, torch.rand(1, 3, 64, 64))]:
            p = os.path.join(tmp, name + ".onnx")
            export(m, ex, p)
            sessions[name] = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
            inputs[name] = ex.numpy()

    results = {}  # (case, runtime) -> [(median, min)]
    for r in range(args.rounds):
        line = []
        for name, s in sessions.items():
            med, mn = timeit(lambda: s.run(None, {"inp": inputs[name]}), args.budget)
            results.setdefault((name, "onnxruntime"), []).append((med, mn))
            line.append(f"{name} ort {med:.3f} ({mn:.3f})")
        out = subprocess.run([args.mend, "bench", "models", "--filter", "_fwd_b1", "--json", "--threads",
                              str(args.threads), "--budget", str(args.budget)],
                             check=True, capture_output=True, text=True).stdout
        for row in out.splitlines():
            if not row.startswith("{"):
                continue
            o = json.loads(row)
            if o["case"] in sessions:
                results.setdefault((o["case"], "mend"), []).append((o["median_ms"], o["min_ms"]))
                line.append(f"{o['case']} mend {o['median_ms']:.3f} ({o['min_ms']:.3f})")
        print(f"round {r + 1}: " + ", ".join(line), flush=True)

    print(f"# {args.rounds} rounds, {args.threads} threads, onnxruntime {ort.__version__}; ms")
    for (case, rt), v in sorted(results.items()):
        meds, mins = [a for a, _ in v], [b for _, b in v]
        print(f"{case:10s} {rt:12s} median of medians {statistics.median(meds):7.3f} "
              f"(range {min(meds):.3f}-{max(meds):.3f}), median of mins {statistics.median(mins):7.3f}")


if __name__ == "__main__":
    np.random.seed(0)
    main()
