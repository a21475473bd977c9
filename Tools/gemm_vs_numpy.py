#!/usr/bin/env python3
"""CPU SGEMM, mend vs OpenBLAS (numpy), side by side with the same thread count.

    python3 Tools/gemm_vs_numpy.py --threads 2 [--isa avx512|avx2|generic] [--mend .build/release/mend]

Times numpy's float32 matmul (C = A @ B, n x n) at n = 256, 512, 1024, 2048: median of repeated runs
after warm-up, in a child process whose OpenBLAS is pinned to --threads. Then runs
`mend bench ops --device cpu --threads N --filter gemm_ --json` and prints both with the ratio.
With --isa avx2, OpenBLAS runs its Haswell kernels (OPENBLAS_CORETYPE=Haswell) and mend its AVX2
kernels (MEND_CPU_ISA=avx2): the AVX2 comparison on any AVX-512 machine. --rounds R alternates the
two sides R times and prints each round and the medians.
The target is mend >= 90% of OpenBLAS on each level.
"""
import argparse, json, os, subprocess, sys, time

SIZES = [256, 512, 1024, 2048]

def numpy_child(threads, budget):
    import numpy as np
    out = {}
    rng = np.random.default_rng(0)
    for n in SIZES:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), dtype=np.float32)
        for _ in range(3):
            np.matmul(a, b, out=c)
        samples = []
        start = time.perf_counter()
        while len(samples) < 5 or (len(samples) < 200 and time.perf_counter() - start < budget):
            t0 = time.perf_counter()
            np.matmul(a, b, out=c)
            samples.append((time.perf_counter() - t0) * 1e3)
        samples.sort()
        med = samples[len(samples) // 2]
        out[n] = (med, 2 * n ** 3 / (med * 1e-3) / 1e9)
    print(json.dumps(out))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=1.5)
    ap.add_argument("--mend", default=".build/release/mend")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--isa", choices=["avx512", "avx2", "generic"], default=None)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    if args.child:
        numpy_child(args.threads, args.budget)
        return
    env = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    # Older OpenBLAS builds need these on some CPUs; they slow a current numpy, so unset for timing.
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    mend_env = dict(env)
    if args.isa:
        mend_env["MEND_CPU_ISA"] = args.isa
        if args.isa == "avx2":
            env["OPENBLAS_CORETYPE"] = "Haswell"
        elif args.isa == "generic":
            env["OPENBLAS_CORETYPE"] = "Prescott"
    rounds = []
    isa = "?"
    for _ in range(args.rounds):
        np_out = json.loads(subprocess.check_output([sys.executable, __file__, "--child", "--threads",
                                                     str(args.threads), "--budget", str(args.budget)], env=env))
        res = subprocess.check_output([args.mend, "bench", "ops", "--device", "cpu", "--threads", str(args.threads),
                                       "--filter", "gemm_", "--budget", str(args.budget), "--json"], env=mend_env)
        mend = {}
        for line in res.decode().splitlines():
            r = json.loads(line)
            isa = r.get("isa", "?")
            if r["case"] in {f"gemm_{n}" for n in SIZES}:
                mend[int(r["case"].split("_")[1])] = (r["median_ms"], r["gflops"])
        rounds.append((np_out, mend))
    import numpy
    print(f"threads {args.threads}; numpy {numpy.__version__} (OpenBLAS, OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', 'auto')}); "
          f"mend {isa} kernels; {args.rounds} round(s), medians")
    print(f"{'n':>6} {'numpy ms':>10} {'numpy GF/s':>11} {'mend ms':>10} {'mend GF/s':>10} {'mend/numpy':>11}")
    med = lambda v: sorted(v)[len(v) // 2]
    for n in SIZES:
        nm = med([r[0][str(n)][0] for r in rounds]); ng = med([r[0][str(n)][1] for r in rounds])
        mm = med([r[1][n][0] for r in rounds]); mg = med([r[1][n][1] for r in rounds])
        print(f"{n:>6} {nm:>10.3f} {ng:>11.1f} {mm:>10.3f} {mg:>10.1f} {mg / ng * 100:>10.0f}%")

if __name__ == "__main__":
    main()
