#!/usr/bin/python3
"""Memory report for docs/PERFORMANCE.md: the static memory plan of every zoo model, and peak RSS of one inference
with nnport (planner on and off) against ONNX Runtime on the same input.

  /usr/bin/python3 scripts/memory_report.py [--nnport build/nnport] [--zoo models/zoo] [--repeat 3] [--no-rss]

Prints Markdown. Exits 1 when a model's arena exceeds 1.10 x its lower bound at any optimization level (or a command
fails).
Peak RSS is /usr/bin/time -v's "Maximum resident set size" of the whole process; each figure is the median of
--repeat runs. ONNX Runtime runs through tools/ort/ort_run.js (onnxruntime-node, 1 intra-op thread, all graph
optimizations); nnport runs with --threads 1 to match. Node's own footprint is given for an empty script and for one
that only loads onnxruntime-node, so the runtimes can be compared net of it.
"""
import argparse
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_RATIO = 1.10


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"memory_report: {' '.join(cmd)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()}")
    return r.stdout


def peak_rss_mib(cmd, repeat):
    """Median over `repeat` runs of the peak RSS (MiB) of `cmd`, measured by /usr/bin/time -v."""
    values = []
    for _ in range(repeat):
        r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"memory_report: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        values.append(int(m.group(1)) / 1024.0)
    return statistics.median(values)


def mib(b):
    return f"{b / (1 << 20):.2f}"


def plan_table(nnport, zoo):
    models = sorted(glob.glob(os.path.join(zoo, "*_op13.onnx")) + glob.glob(os.path.join(zoo, "*_op17.onnx")))
    if not models:
        sys.exit(f"memory_report: no *_op13.onnx / *_op17.onnx models in {zoo}")
    print("| model | inputs | arena MiB | lower bound MiB | naive MiB | arena / lower bound | naive / arena "
          "| tensors | in place | views |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for m in models:
        j = json.loads(run([nnport, "inspect", "--memory", "--json", m]))
        shapes = ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in j["inputs"].items())
        if j["dynamic"]:
            shapes += " (dynamic)"
        worst = max(worst, j["ratio"])
        naive_x = j["naive_bytes"] / j["arena_bytes"] if j["arena_bytes"] else 0.0
        print(f"| {os.path.basename(m)} | {shapes} | {mib(j['arena_bytes'])} | {mib(j['lower_bound_bytes'])} "
              f"| {mib(j['naive_bytes'])} | {j['ratio']:.3f} | {naive_x:.1f} | {j['tensors']} | {j['inplace']} "
              f"| {j['views']} |")
    print(f"\nWorst arena / lower bound: {worst:.3f} (target <= {MAX_RATIO:.2f}).")
    # The same models planned after less optimization (other graphs: unfused activations, LayerNorm, attention).
    for level in (0, 1, 2):
        ratios = [json.loads(run([nnport, "inspect", "--memory", "--json", "--level", str(level), m]))["ratio"]
                  for m in models]
        worst = max(worst, max(ratios))
        print(f"At optimization level {level}: worst arena / lower bound {max(ratios):.3f}.")
    return worst


def rss_table(nnport, zoo, repeat):
    ort = os.path.join(ROOT, "tools", "ort", "ort_run.js")
    ort_lib = os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node")
    tmp = tempfile.mkdtemp(prefix="nnport_memory_report_")
    cases = [("resnet50_op17.onnx", os.path.join(zoo, "resnet50.input.npy"), "1x3x224x224")]
    # A batch-32 resnet18 input (the zoo input tiled) makes activations, not weights, dominate.
    r18 = os.path.join(tmp, "resnet18_b32.npy")
    run(["/usr/bin/python3", "-c", "import numpy as n,sys; x=n.load(sys.argv[1]); "
         "n.save(sys.argv[2], n.ascontiguousarray(n.tile(x, (32, 1, 1, 1))))",
         os.path.join(zoo, "resnet18.input.npy"), r18])
    cases.append(("resnet18_op17.onnx", r18, "32x3x224x224"))
    node_empty = peak_rss_mib(["node", "-e", ""], repeat)
    node_ort = peak_rss_mib(["node", "-e", f"require({json.dumps(ort_lib)})"], repeat)
    print("| model | input | nnport load only (inspect) | nnport run, planner on | nnport run, planner off "
          "| ONNX Runtime (node) | ONNX Runtime net of node + library |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, inp, shape in cases:
        model = os.path.join(zoo, name)
        out = os.path.join(tmp, "out")
        load = peak_rss_mib([nnport, "inspect", model], repeat)
        on = peak_rss_mib([nnport, "run", model, "-i", inp, "-o", out, "--threads", "1"], repeat)
        off = peak_rss_mib([nnport, "run", model, "-i", inp, "-o", out, "--threads", "1", "--no-memory-plan"], repeat)
        o = peak_rss_mib(["node", ort, model, os.path.join(tmp, "ort"), inp], repeat)
        arena = json.loads(run([nnport, "inspect", "--memory", "--json", "--shape", f"input={shape}", model]))
        print(f"| {name} (arena {mib(arena['arena_bytes'])} MiB) | {shape} | {load:.1f} | {on:.1f} | {off:.1f} "
              f"| {o:.1f} | {o - node_ort:.1f} |")
    print(f"\nPeak RSS in MiB, median of {repeat} runs. Node alone: {node_empty:.1f} MiB (empty script); "
          f"node + onnxruntime-node loaded: {node_ort:.1f} MiB.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnport", default=os.path.join(ROOT, "build", "nnport"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "models", "zoo"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-rss", action="store_true", help="only the plan table")
    a = ap.parse_args()
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"Machine: {platform.machine()}, {cpu}, {os.cpu_count()} CPUs, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.0f} GiB; nnport: {a.nnport}\n")
    worst = plan_table(a.nnport, a.zoo)
    if not a.no_rss:
        print()
        rss_table(a.nnport, a.zoo, a.repeat)
    return 1 if worst > MAX_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
