#!/usr/bin/python3
"""Zoo optimizer gate and report: for every model of the zoo manifest, `nnport optimize` (standard ONNX output) must
load in ONNX Runtime 1.30 and reproduce PyTorch's outputs within the manifest tolerance, and `nnport run` of the
original (which optimizes at session creation) must as well. Prints a markdown table of node counts per level.

    /usr/bin/python3 tests/ort/zoo_optimize_check.py --nnport build/nnport [--zoo models/zoo] [--filter REGEX]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rel_err(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want)) / max(float(np.max(np.abs(want))), 1e-6))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnport", required=True)
    ap.add_argument("--zoo", default=os.path.join(ROOT, "models", "zoo"))
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    manifest = os.path.join(a.zoo, "manifest.json")
    if not os.path.exists(manifest):
        print("zoo_optimize_check: no zoo at %s (scripts/gen_zoo.py makes it); nothing to check" % a.zoo)
        return 0
    m = json.load(open(manifest))
    tol = m.get("tolerance", 1e-4)
    work = tempfile.mkdtemp(prefix="nnport_zoo_opt_")
    failures = []
    jobs, rows = [], []
    pat = re.compile(a.filter) if a.filter else None
    for e in m["models"]:
        model = os.path.join(a.zoo, e["file"])
        if not os.path.exists(model) or (pat and not pat.search(e["file"])):
            continue
        base = os.path.join(work, e["file"][:-5])
        os.makedirs(base)
        counts = {}
        for level in (0, 1, 2, 3):
            out = os.path.join(base, "l%d.onnx" % level)
            r = subprocess.run([a.nnport, "optimize", model, "-o", out, "--level", str(level)], capture_output=True,
                               text=True)
            if r.returncode != 0:
                failures.append("%s level %d: optimize failed: %s" % (e["file"], level, r.stderr.strip()))
                continue
            mr = re.search(r"nodes: (\d+) -> (\d+)", r.stdout)
            counts[level] = int(mr.group(2)) if mr else None
            if level == 3:
                inputs = ["%s=%s" % (i["name"], os.path.join(a.zoo, i["file"])) for i in e["inputs"]]
                jobs.append({"model": out, "out": os.path.join(base, "ort"), "inputs": inputs})
        rows.append((e, base, counts))
    jobs_file = os.path.join(work, "jobs.json")
    json.dump(jobs, open(jobs_file, "w"))
    if jobs:
        subprocess.run(["node", os.path.join(ROOT, "tools", "ort", "ort_run.js"), "--batch", jobs_file], check=True)
    print("| model | opset | nodes (original) | level 1 | level 2 | level 3 | ORT on optimized: max rel err |")
    print("|---|---|---|---|---|---|---|")
    for e, base, counts in rows:
        ort_dir = os.path.join(base, "ort")
        err = "-"
        if os.path.exists(os.path.join(ort_dir, "error.txt")):
            failures.append("%s: ONNX Runtime failed on the optimized model: %s" %
                            (e["file"], open(os.path.join(ort_dir, "error.txt")).read().strip()))
            err = "ORT error"
        elif os.path.exists(os.path.join(ort_dir, "outputs.json")):
            index = json.load(open(os.path.join(ort_dir, "outputs.json")))["outputs"]
            worst = 0.0
            for k, o in enumerate(e["outputs"]):
                match = [x for x in index if x["name"] == o["name"]]
                if not match:
                    failures.append("%s: output '%s' missing after optimize" % (e["file"], o["name"]))
                    continue
                got = np.load(os.path.join(ort_dir, match[0]["file"]))
                want = np.load(os.path.join(a.zoo, o["file"]))
                if got.shape != want.shape:
                    failures.append("%s: output '%s' shape %s != %s" % (e["file"], o["name"], got.shape, want.shape))
                    continue
                worst = max(worst, rel_err(got, want))
            if worst > tol:
                failures.append("%s: optimized model in ORT differs from PyTorch: %.3g > %g" % (e["file"], worst, tol))
            err = "%.2e" % worst
        print("| %s | %d | %s | %s | %s | %s | %s |" % (e["model"], e["opset"], e["nodes"], counts.get(1, "?"),
                                                       counts.get(2, "?"), counts.get(3, "?"), err))
    shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f)
    print("zoo_optimize_check: %d models, %d failures" % (len(rows), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
