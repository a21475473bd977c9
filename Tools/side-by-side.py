#!/usr/bin/env python3
"""The model benchmarks side by side with PyTorch and onnxruntime, on one chosen CPU kernel level.

    python3 Tools/side-by-side.py --isa avx2 --peer ../shared/peer --python /tmp/peer-venv/bin/python \
        [--threads 2] [--budget 2] [--rounds 2] [--mend .build/release/mend] [--markdown] [--avx2-only-cpu]

Each round runs, one after another on the same quiet machine: `mend bench models` with
MEND_CPU_ISA=ISA, PyTorch eager (`bench_torch.py`), onnxruntime (`bench_ort.py`) and SGEMM against
numpy's OpenBLAS (`Tools/gemm_vs_numpy.py`). With --isa avx2, PyTorch is restricted to AVX2
(ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2) and OpenBLAS runs
its Haswell kernels; onnxruntime cannot be restricted and runs whatever the CPU has (say so when
quoting it). Prints medians over rounds of each side's median, ms, and mend's ratio to each peer.

--avx2-only-cpu (implies --isa avx2) runs every side, onnxruntime included, on an emulated AVX2-only
CPU: Tools/avx2-only/cpuid-avx2-only.c, LD_PRELOADed, masks AVX-512/AMX out of every CPUID the
processes execute (Linux CPUID faulting; the CPU must list cpuid_fault), so each library's own
run-time dispatch picks its AVX2 kernels on the same cores, as on a Haswell/Zen 3 server. mend then
runs without MEND_CPU_ISA and must choose avx2 by itself (checked).

The peer scripts (PyTorch/onnxruntime timing the same work with random weights) live outside this
repository: pass their folder with --peer, and a Python that has torch, onnx and onnxruntime with
--python (python3 -m venv /tmp/peer-venv && /tmp/peer-venv/bin/pip install torch numpy onnx onnxruntime).
"""
import argparse, json, os, platform, subprocess, sys, tempfile

CASES = ["G_fwd_b1", "G_fwd_b64", "D_fwd_b1", "D_fwd_b64", "z_iter_b1", "z_iter_b64", "SR_fwd_b1"]
AVX2_TORCH = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mend_models(args, env):
    out = {}
    for case in CASES:
        r = subprocess.run([args.mend, "bench", "models", "--device", "cpu", "--threads", str(args.threads),
                            "--filter", case, "--budget", str(args.budget), "--json"],
                           env=env, capture_output=True, text=True, check=True)
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                j = json.loads(line)
                if j["case"] == case:
                    out[case] = (j["median_ms"], j.get("isa", "?"))
    return out


def peer(args, script, env, extra=()):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    subprocess.run([args.python, os.path.join(args.peer, script), "--threads", str(args.threads),
                    "--budget", str(args.budget), "--json", path, *extra],
                   env=env, cwd=args.peer, check=True, stdout=subprocess.DEVNULL)
    data = json.load(open(path))
    os.unlink(path)
    run = data["runs"][f"threads={args.threads}"]
    timings = run.get("timings", run)
    return {k: v["median_ms"] for k, v in timings.items() if k in CASES}


def avx2_only_shim():
    """Builds Tools/avx2-only/cpuid-avx2-only.c into a temporary shared library; returns its path."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "avx2-only", "cpuid-avx2-only.c")
    if "cpuid_fault" not in open("/proc/cpuinfo").read():
        sys.exit("--avx2-only-cpu needs CPUID faulting (the cpuid_fault flag in /proc/cpuinfo)")
    out = os.path.join(tempfile.mkdtemp(prefix="mend-avx2-only-"), "cpuid-avx2-only.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", out, src, "-ldl"], check=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--isa", choices=["avx512", "avx2", "generic"], required=True)
    ap.add_argument("--peer", required=True, help="folder with bench_torch.py and bench_ort.py")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--mend", default=".build/release/mend")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--avx2-only-cpu", action="store_true", help="emulate an AVX2-only CPU for every side")
    args = ap.parse_args()
    if args.avx2_only_cpu and args.isa != "avx2":
        ap.error("--avx2-only-cpu compares AVX2 code: use it with --isa avx2")
    args.peer = os.path.abspath(args.peer)
    args.mend = os.path.abspath(args.mend)
    base = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        base[k] = str(args.threads)
    mend_env = dict(base, MEND_CPU_ISA=args.isa)
    if args.avx2_only_cpu:
        base["LD_PRELOAD"] = avx2_only_shim()
        base["MEND_CPUID_SHIM_REQUIRE"] = "1"
        mend_env = dict(base)
    torch_env = dict(base, **(AVX2_TORCH if args.isa == "avx2" else {}))
    rounds = {"mend": [], "torch": [], "ort": []}
    isa = "?"
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: mend", file=sys.stderr, flush=True)
        m = mend_models(args, mend_env)
        isa = next(iter(m.values()))[1] if m else "?"
        rounds["mend"].append({k: v[0] for k, v in m.items()})
        print(f"round {r + 1}/{args.rounds}: PyTorch eager", file=sys.stderr, flush=True)
        rounds["torch"].append(peer(args, "bench_torch.py", torch_env))
        print(f"round {r + 1}/{args.rounds}: onnxruntime", file=sys.stderr, flush=True)
        rounds["ort"].append(peer(args, "bench_ort.py", base))
    med = lambda v: sorted(v)[len(v) // 2] if v else float("nan")
    table = {side: {c: med([x[c] for x in rs if c in x]) for c in CASES} for side, rs in rounds.items()}
    if args.avx2_only_cpu and isa != "avx2":
        sys.exit(f"mend chose {isa} kernels on the emulated AVX2-only CPU")
    ort = "onnxruntime on the emulated AVX2-only CPU" if args.avx2_only_cpu else "onnxruntime (unrestricted)"
    where = f"{cpu_model()}{' as an AVX2-only CPU (CPUID masked)' if args.avx2_only_cpu else ''}"
    title = (f"{where}; mend {isa} kernels, PyTorch eager{' restricted to AVX2' if args.isa == 'avx2' else ''}, "
             f"{ort}; {args.threads} threads; medians of {args.rounds} alternating rounds, ms")
    if args.markdown:
        print(f"*{title}*\n")
        print("| case | mend | PyTorch eager | onnxruntime | mend / eager | mend / ORT |")
        print("|---|---|---|---|---|---|")
        for c in CASES:
            m, t, o = table["mend"][c], table["torch"][c], table["ort"][c]
            print(f"| {c} | {m:.2f} | {t:.2f} | {o:.2f} | {m / t:.2f} | {m / o:.2f} |")
    else:
        print(title)
        print(f"{'case':12} {'mend':>10} {'eager':>10} {'ORT':>10} {'m/eager':>8} {'m/ORT':>8}")
        for c in CASES:
            m, t, o = table["mend"][c], table["torch"][c], table["ort"][c]
            print(f"{c:12} {m:10.2f} {t:10.2f} {o:10.2f} {m / t:8.2f} {m / o:8.2f}")
    print("\nSGEMM against OpenBLAS:", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gemm_vs_numpy.py"), "--threads",
                    str(args.threads), "--isa", args.isa, "--mend", args.mend, "--rounds", str(args.rounds)],
                   env=base, check=True)


if __name__ == "__main__":
    main()
