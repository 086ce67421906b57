#!/usr/bin/python3
"""Optimizer effect on the zoo, for docs/OPTIMIZER.md: node count before/after (the graph the runtime executes:
level 3 with nnport's fused ops) and latency with nnport's default backends at level 0 vs level 3, measured
interleaved (L0 L3 L0 L3 ...) in one run on one thread; minimum and median of all timed iterations.

    /usr/bin/python3 scripts/optimizer_report.py --nnport build/nnport [--zoo models/zoo] [--rounds 3] [--iters 5]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nodes_after(nnport, model, level, tmp):
    out = os.path.join(tmp, "opt.onnx")
    r = subprocess.run([nnport, "optimize", model, "-o", out, "--level", str(level), "--keep-fused"],
                       capture_output=True, text=True, check=True)
    m = re.search(r"nodes: (\d+) -> (\d+)", r.stdout)
    return int(m.group(1)), int(m.group(2))


def bench(nnport, model, level, inputs, iters):
    cmd = [nnport, "bench", model, "--level", str(level), "--threads", "1", "--warmup", "1", "--iters", str(iters),
           "--json"]
    for i in inputs:
        cmd += ["-i", i]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["latencies_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnport", required=True)
    ap.add_argument("--zoo", default=os.path.join(ROOT, "models", "zoo"))
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    manifest = json.load(open(os.path.join(a.zoo, "manifest.json")))
    tmp = tempfile.mkdtemp(prefix="nnport_optrep_")
    print("| model | nodes before | nodes after | L0 min ms | L0 median ms | L3 min ms | L3 median ms | "
          "speed-up (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for e in manifest["models"]:
        if e["opset"] != a.opset or (a.filter and not re.search(a.filter, e["model"])):
            continue
        model = os.path.join(a.zoo, e["file"])
        if not os.path.exists(model):
            continue
        before, after = nodes_after(a.nnport, model, 3, tmp)
        inputs = ["%s=%s" % (i["name"], os.path.join(a.zoo, i["file"])) for i in e["inputs"]]
        samples = {0: [], 3: []}
        for _ in range(a.rounds):
            for level in (0, 3):
                samples[level] += bench(a.nnport, model, level, inputs, a.iters)
        l0, l3 = samples[0], samples[3]
        print("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2fx |" %
              (e["model"], before, after, min(l0), statistics.median(l0), min(l3), statistics.median(l3),
               statistics.median(l0) / statistics.median(l3)))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
