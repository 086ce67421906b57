#!/usr/bin/python3
"""Convert gate: `nnport convert` of each zoo model for several targets must write standard ONNX that ONNX Runtime
1.30 loads and runs -- the converted model, then its post-processing model (if any) fed by the first one's outputs
-- reproducing PyTorch's outputs within the zoo manifest tolerance, with the original output names and order.

    /usr/bin/python3 tests/ort/convert_check.py --nnport build/nnport [--zoo models/zoo] [--targets a,b] [--filter RE]
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
DEFAULT_TARGETS = "caffe,ncnn,tnn,tflite,snpe_qnn,minidnn,armnn,mnn"


def rel_err(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want)) / max(float(np.max(np.abs(want))), 1e-6))


def ort_batch(jobs, work, tag):
    path = os.path.join(work, "jobs_%s.json" % tag)
    json.dump(jobs, open(path, "w"))
    if jobs:
        subprocess.run(["node", os.path.join(ROOT, "tools", "ort", "ort_run.js"), "--batch", path], check=True)


def outputs_of(out_dir):
    """name -> .npy path of an ort_run.js result folder, or an error string."""
    if os.path.exists(os.path.join(out_dir, "error.txt")):
        return open(os.path.join(out_dir, "error.txt")).read().strip()
    index = json.load(open(os.path.join(out_dir, "outputs.json")))["outputs"]
    return [(o["name"], os.path.join(out_dir, o["file"])) for o in index]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnport", required=True)
    ap.add_argument("--zoo", default=os.path.join(ROOT, "models", "zoo"))
    ap.add_argument("--targets", default=DEFAULT_TARGETS)
    ap.add_argument("--filter", default="_op17")
    a = ap.parse_args()
    manifest = os.path.join(a.zoo, "manifest.json")
    if not os.path.exists(manifest):
        print("convert_check: no zoo at %s (scripts/gen_zoo.py makes it); nothing to check" % a.zoo)
        return 0
    m = json.load(open(manifest))
    tol = m.get("tolerance", 1e-4)
    pat = re.compile(a.filter) if a.filter else None
    work = tempfile.mkdtemp(prefix="nnport_convert_check_")
    failures, cases = [], []
    for e in m["models"]:
        model = os.path.join(a.zoo, e["file"])
        if not os.path.exists(model) or (pat and not pat.search(e["file"])):
            continue
        for t in a.targets.split(","):
            base = os.path.join(work, "%s__%s" % (e["file"][:-5], t))
            os.makedirs(base)
            out = os.path.join(base, "c.onnx")
            r = subprocess.run([a.nnport, "convert", model, "--target", t, "-o", out, "--allow-approx", "--json",
                                "--samples", "1"], capture_output=True, text=True)
            if r.returncode not in (0, 3):
                try:
                    why = "; ".join(json.loads(r.stdout)["problems"])
                except (ValueError, KeyError):
                    why = r.stderr.strip()
                print("%s -> %s: conversion failed (%s); not an ORT case" % (e["file"], t, why))
                continue
            rep = json.loads(r.stdout)
            inputs = ["%s=%s" % (i["name"], os.path.join(a.zoo, i["file"])) for i in e["inputs"]]
            post = os.path.join(base, "c.post.onnx")
            cases.append({"e": e, "t": t, "base": base, "status": rep["status"], "inputs": inputs,
                          "post": post if os.path.exists(post) else None,
                          "job": {"model": out, "out": os.path.join(base, "ort"), "inputs": inputs}})
    ort_batch([c["job"] for c in cases], work, "main")
    post_jobs = []
    for c in cases:
        if not c["post"]:
            continue
        res = outputs_of(c["job"]["out"])
        if isinstance(res, str):
            continue
        post_jobs.append({"model": c["post"], "out": os.path.join(c["base"], "ort_post"),
                          "inputs": ["%s=%s" % (n, f) for n, f in res] + c["inputs"]})
    ort_batch(post_jobs, work, "post")
    print("| model | target | nnport convert | ORT max rel err vs PyTorch |")
    print("|---|---|---|---|")
    for c in cases:
        e, t = c["e"], c["t"]
        res = outputs_of(os.path.join(c["base"], "ort_post" if c["post"] else "ort"))
        if isinstance(res, str):
            failures.append("%s -> %s: ONNX Runtime failed: %s" % (e["file"], t, res))
            print("| %s | %s | %s | ORT error |" % (e["model"], t, c["status"]))
            continue
        names = [n for n, _ in res]
        want_names = [o["name"] for o in e["outputs"]]
        if c["post"] and names != want_names:
            failures.append("%s -> %s: outputs %s, expected %s in that order" % (e["file"], t, names, want_names))
        worst = 0.0
        for o in e["outputs"]:
            match = [f for n, f in res if n == o["name"]]
            if not match:
                failures.append("%s -> %s: output '%s' missing" % (e["file"], t, o["name"]))
                continue
            got, want = np.load(match[0]), np.load(os.path.join(a.zoo, o["file"]))
            if got.shape != want.shape:
                failures.append("%s -> %s: output '%s' shape %s != %s" % (e["file"], t, o["name"], got.shape,
                                                                         want.shape))
                continue
            worst = max(worst, rel_err(got, want))
        # Approximate conversions were allowed: hold only the exact ones to the tolerance.
        if worst > tol and c["status"] != "converted approximately":
            failures.append("%s -> %s: ORT on the converted model differs from PyTorch: %.3g > %g" %
                            (e["file"], t, worst, tol))
        print("| %s | %s | %s | %.2e |" % (e["model"], t, c["status"], worst))
    shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f)
    print("convert_check: %d conversions run in ONNX Runtime, %d failures" % (len(cases), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
