#!/usr/bin/python3
"""nnport against ONNX Runtime 1.30 (onnxruntime-node, CPU, fp32) on the same models, inputs and thread counts.

    /usr/bin/python3 bench/compare_ort.py [--nnport build/nnport] [--models A.onnx ...] [--threads 1,2]
                                          [--rounds 3] [--round-seconds 2] [--quick] [--json FILE]

For each model and thread count the two runtimes run in alternating rounds (ORT, nnport, ORT, nnport, ...), each round
a fresh process that loads the model, runs it once, warms up and times k runs in-process (bench/ort_bench.js and
`nnport bench --json`). k is picked per runtime so that a round takes about --round-seconds; all per-run latencies of
all rounds are pooled and the table reports their minimum and median. Alternating rounds in one run keeps a busy,
shared machine's drift out of the ratio as far as possible; the minimum is the least disturbed figure.

GFLOPs come from nnport's count of the model as given (runtime/model_stats: Conv/Gemm/MatMul as 2 FLOPs per
multiply-add, other ops one per output element). The fp32 peak is measured here by bench/fma_peak.cpp (best of
5 single-thread FMA-loop runs, times the thread count). Outputs are compared numerically: nnport's outputs against
ORT's (nnport bench --reference), max abs and max rel (relative to the largest |ORT output|) over all outputs.

Progress goes to stderr; stdout is the markdown report (docs/PERFORMANCE.md holds one verbatim). Needs node and g++;
installs onnxruntime-node (npm ci --ignore-scripts in tools/ort) if missing. Standard library and numpy only.
"""
import argparse
import glob
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_DIR = os.path.join(ROOT, "tools", "ort")
ZOO = os.path.join(ROOT, "models", "zoo")
TIMEOUT_S = 900


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, cwd=None):
    """Runs cmd; returns stdout, raising RuntimeError with the last stderr line on failure."""
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)
    if p.returncode != 0:
        lines = (p.stderr or p.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"{cmd[0]} exited with {p.returncode}")
    return p.stdout


def ensure_ort():
    if os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        return
    log("installing onnxruntime-node (npm ci --ignore-scripts in tools/ort)")
    run(["npm", "ci", "--ignore-scripts"], cwd=ORT_DIR)


def fp32_peak(tmp):
    """Single-core fp32 FMA peak in GFLOP/s, measured by bench/fma_peak.cpp."""
    exe = os.path.join(tmp, "fma_peak")
    run(["g++", "-O2", "-std=c++20", "-pthread", os.path.join(ROOT, "bench", "fma_peak.cpp"), "-o", exe])
    return json.loads(run([exe, "1", "5"]))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def model_inputs(model, nnport, tmp):
    """[(name, .npy path)] for a model: the zoo manifest's inputs, else seeded random data from `nnport inspect`."""
    try:
        with open(os.path.join(ZOO, "manifest.json")) as f:
            manifest = json.load(f)
        for e in manifest["models"]:
            if os.path.abspath(os.path.join(ZOO, e["file"])) == os.path.abspath(model):
                return [(i["name"], os.path.join(ZOO, i["file"])) for i in e["inputs"]]
    except (OSError, KeyError, ValueError):
        pass
    info = json.loads(run([nnport, "inspect", "--json", model]))
    rng = np.random.default_rng(0)
    out = []
    for i, inp in enumerate(info["inputs"]):
        shape = [d if isinstance(d, int) else 1 for d in (inp["shape"] or [])]
        dtype = np.dtype(inp["dtype"])
        data = rng.uniform(-1, 1, shape) if dtype.kind == "f" else rng.integers(0, 10, shape)
        path = os.path.join(tmp, f"{os.path.basename(model)}.in{i}.npy")
        np.save(path, data.astype(dtype))
        out.append((inp["name"], path))
    return out


def ort_round(model, inputs, threads, iters, warmup, out=None):
    cmd = ["node", os.path.join(ROOT, "bench", "ort_bench.js"), model, "--threads", str(threads), "--warmup",
           str(warmup), "--iters", str(iters)]
    if out:
        cmd += ["--out", out]
    return json.loads(run(cmd + [f"{n}={p}" for n, p in inputs]))


def nnport_round(nnport, model, inputs, threads, iters, warmup, reference=None, backend=None):
    cmd = [nnport, "bench", model, "--json", "--threads", str(threads), "--warmup", str(warmup), "--iters", str(iters)]
    if backend:
        cmd += ["--backend", backend]
    for n, p in inputs:
        cmd += ["-i", f"{n}={p}"]
    if reference:
        cmd += ["--reference", reference]
    return json.loads(run(cmd))


def iters_for(latency_ms, round_s):
    return max(1, min(50, int(round_s * 1000.0 / max(latency_ms, 1e-3))))


def compare(model, nnport, threads, args, tmp):
    """Interleaved rounds for one model at one thread count; a dict of results (or 'error')."""
    name = os.path.basename(model).removesuffix(".onnx").removesuffix("_op17")
    res = {"model": name, "file": model, "threads": threads}
    inputs = model_inputs(model, nnport, tmp)
    ref_dir = os.path.join(tmp, f"{name}.t{threads}.ort")
    # Round 0 times one run of each (after the untimed first run) to size the later rounds; its samples count too.
    ort = ort_round(model, inputs, threads, 1, 0, out=ref_dir)
    nn = nnport_round(nnport, model, inputs, threads, 1, 0, reference=ref_dir, backend=args.backend)
    ort_lat, nn_lat = list(ort["latencies_ms"]), list(nn["latencies_ms"])
    ort_cpu, nn_cpu = list(ort["cpu_times_ms"]), list(nn["cpu_times_ms"])
    res.update(flops=nn["flops"], flops_uncounted_nodes=nn["flops_uncounted_nodes"], ort_version=ort["version"],
               max_abs=nn["accuracy"]["max_abs"], max_rel=nn["accuracy"]["max_rel"], backend=nn["backend"])
    k_ort, k_nn = iters_for(min(ort_lat), args.round_seconds), iters_for(min(nn_lat), args.round_seconds)
    # The first run of each process warms caches and the allocator; slow models need no extra warm-up run.
    w_ort, w_nn = (1 if min(ort_lat) < 500 else 0), (1 if min(nn_lat) < 500 else 0)
    for r in range(args.rounds):
        o = ort_round(model, inputs, threads, k_ort, w_ort)
        n = nnport_round(nnport, model, inputs, threads, k_nn, w_nn, backend=args.backend)
        ort_lat += o["latencies_ms"]
        ort_cpu += o["cpu_times_ms"]
        nn_lat += n["latencies_ms"]
        nn_cpu += n["cpu_times_ms"]
        log(f"  {name} t={threads} round {r + 1}/{args.rounds}: ORT {statistics.median(ort_lat):.2f} ms, "
            f"nnport {statistics.median(nn_lat):.2f} ms (median so far)")
    res.update(ort_ms=ort_lat, nnport_ms=nn_lat, ort_cpu_ms=ort_cpu, nnport_cpu_ms=nn_cpu, ort_iters=k_ort,
               nnport_iters=k_nn)
    return res


def fmt_ms(v):
    return f"{v:.1f}" if v >= 100 else f"{v:.2f}" if v >= 10 else f"{v:.3f}"


def table(rows, threads, peak):
    out = [f"### {threads} thread{'s' if threads > 1 else ''} (fp32 peak {peak * threads:.1f} GFLOP/s)", "",
           "| model | GFLOPs | ORT ms min | ORT ms median | nnport ms min | nnport ms median | ratio (median) | "
           "ratio (min) | ratio (CPU time) | CPU share ORT / nnport | ORT GFLOP/s | nnport GFLOP/s | nnport % of peak | "
           "max abs err | max rel err |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['model']} | | | | | | | | | | | | | error: {r['error']} | |")
            continue
        o_min, o_med = min(r["ort_ms"]), statistics.median(r["ort_ms"])
        n_min, n_med = min(r["nnport_ms"]), statistics.median(r["nnport_ms"])
        gf = r["flops"] / 1e9 if r["flops"] is not None else float("nan")
        mark = "*" if r["flops_uncounted_nodes"] else ""
        n_gfs = gf / (n_med / 1e3)
        cpu_ratio = statistics.median(r["nnport_cpu_ms"]) / max(statistics.median(r["ort_cpu_ms"]), 1e-9)
        share = [100.0 * sum(r[k + "_cpu_ms"]) / max(sum(r[k + "_ms"]), 1e-9) / threads for k in ("ort", "nnport")]
        out.append(f"| {r['model']} | {gf:.3g}{mark} | {fmt_ms(o_min)} | {fmt_ms(o_med)} | {fmt_ms(n_min)} | "
                   f"{fmt_ms(n_med)} | {n_med / o_med:.2f} | {n_min / o_min:.2f} | {cpu_ratio:.2f} | "
                   f"{share[0]:.0f}% / {share[1]:.0f}% | {gf / (o_med / 1e3):.3g} | "
                   f"{n_gfs:.3g} | {100.0 * n_gfs / (peak * threads):.2f}% | {r['max_abs']:.2g} | {r['max_rel']:.2g} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nnport", default=os.path.join(ROOT, "build", "nnport"), help="nnport binary")
    ap.add_argument("--models", nargs="+", help="ONNX files (default: models/zoo/*_op17.onnx)")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per runtime after the sizing round")
    ap.add_argument("--round-seconds", type=float, default=2.0, help="target time of one round of one runtime")
    ap.add_argument("--quick", action="store_true", help="a short run: 1 round of about 0.3 s")
    ap.add_argument("--json", help="also write every sample and result to this file")
    ap.add_argument("--backend", help="nnport backend preference list (default: nnport's default backends)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.round_seconds = 1, 0.3
    nnport = os.path.abspath(args.nnport)
    if not os.access(nnport, os.X_OK):
        sys.exit(f"compare_ort: {nnport} is not an executable (build it, or pass --nnport)")
    models = args.models or sorted(glob.glob(os.path.join(ZOO, "*_op17.onnx")))
    thread_counts = [int(t) for t in args.threads.split(",")]
    ensure_ort()
    started = time.time()
    results = []
    with tempfile.TemporaryDirectory(prefix="nnport_cmp_") as tmp:
        peak = fp32_peak(tmp)
        log(f"fp32 peak: {peak['gflops_per_core']:.1f} GFLOP/s per core ({peak['isa']})")
        for t in thread_counts:
            for m in models:
                log(f"{os.path.basename(m)} threads={t}")
                try:
                    results.append(compare(m, nnport, t, args, tmp))
                except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
                    log(f"  failed: {e}")
                    results.append({"model": os.path.basename(m).removesuffix(".onnx").removesuffix("_op17"),
                                    "threads": t, "error": str(e).replace("|", "/")})
    elapsed = time.time() - started
    ok = [r for r in results if "error" not in r]
    nn_version = run([nnport, "--version"]).strip()
    ort_version = ok[0]["ort_version"] if ok else "?"
    backend = ok[0]["backend"] if ok else "?"
    command = " ".join(shlex.quote(a) for a in ["/usr/bin/python3", "bench/compare_ort.py"] + sys.argv[1:])
    lines = [f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs; fp32 peak measured by bench/fma_peak.cpp: "
             f"{peak['gflops_per_core']:.1f} GFLOP/s per core ({peak['isa']} FMA loop, best of 5).",
             f"ONNX Runtime {ort_version} (onnxruntime-node, CPU EP, all graph optimizations) vs nnport {nn_version} "
             f"(backend {backend}), fp32, batch 1.",
             f"Command: `{command}` ({elapsed / 60:.1f} min, {time.strftime('%Y-%m-%d', time.gmtime())}).",
             f"Each cell pools every run of 1 sizing round + {args.rounds} interleaved rounds (ORT, nnport, ORT, ...), "
             f"each round about {args.round_seconds:g} s of runs in a fresh process. ratio = nnport / ORT "
             "(above 1: nnport slower) of wall-clock latency; ratio (CPU time) = of the process CPU time per run "
             "(medians). CPU share = CPU time / wall time / threads: under 100% means the runtime waited for a core "
             "(a busy machine); ORT's idle workers spin, which counts as CPU time at 2 threads. GFLOP/s at the median "
             "wall-clock latency. * = some nodes' FLOPs not counted.", ""]
    for t in thread_counts:
        lines += table([r for r in results if r["threads"] == t], t, peak["gflops_per_core"]) + [""]
    print("\n".join(lines).rstrip())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak": peak, "command": command, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
