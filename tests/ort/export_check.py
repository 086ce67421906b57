#!/usr/bin/python3
"""Export gate: every ONNX backend test model that ONNX Runtime runs as shipped must also run, with the expected
outputs, after `nnport export` (import -> IR -> ONNX). Old-opset models ORT refuses are counted when our export
(lifted to opset >= 7) makes them run. With `--verb optimize` the same gate checks `nnport optimize` (all levels'
passes, standard ONNX output): every optimized model must load in ONNX Runtime and give the expected outputs.

    /usr/bin/python3 tests/ort/export_check.py --nnport build/nnport [--verb export|optimize] [--filter REGEX] [--verbose]

Needs tools/ort/node_modules (scripts/setup.sh installs it). Exit 1 on a regression: a case whose original passes in
ORT but whose export fails to load, run or match (rtol 1e-3, atol 1e-5; exact for non-floats).
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
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOLDERS = ["node", "simple", "pytorch-converted", "pytorch-operator"]


def tensor_only(model_path):
    m = onnx.load(model_path, load_external_data=False)
    for v in list(m.graph.input) + list(m.graph.output):
        if not v.type.HasField("tensor_type"):
            return False
        if v.type.tensor_type.elem_type in (onnx.TensorProto.STRING, onnx.TensorProto.BFLOAT16,
                                            onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128):
            return False
    return True


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, numpy_helper.to_array(t)


def close(got, want):
    if got.shape != want.shape:
        return False
    if want.dtype.kind == "f":
        got = got.astype(np.float64)
        want = want.astype(np.float64)
        both_nan = np.isnan(got) & np.isnan(want)
        ok = np.abs(got - want) <= 1e-5 + 1e-3 * np.abs(want)
        ok |= both_nan | ((got == want) & np.isinf(want))
        return bool(ok.all())
    return bool((got == want).all())


def compare(out_dir, expected):
    err = os.path.join(out_dir, "error.txt")
    if os.path.exists(err):
        return open(err).read().strip() or "error"
    index = json.load(open(os.path.join(out_dir, "outputs.json")))["outputs"]
    for k, (name, want) in enumerate(expected):
        match = [o for o in index if o["name"] == name] or ([index[k]] if k < len(index) else [])
        if not match:
            return "missing output %d" % k
        got = np.load(os.path.join(out_dir, match[0]["file"]))
        if got.dtype == np.uint8 and want.dtype == np.bool_:
            got = got.astype(np.bool_)
        if not close(got, want):
            return "output '%s' differs" % match[0]["name"]
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnport", required=True)
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data")
    ap.add_argument("--filter", default="")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--verb", default="export", choices=["export", "optimize"], help="nnport command under test")
    a = ap.parse_args()
    runner = os.path.join(ROOT, "tools", "ort", "ort_run.js")
    if not os.path.isdir(os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node")):
        sys.exit("export_check: tools/ort/node_modules is missing; run scripts/setup.sh")
    work = tempfile.mkdtemp(prefix="nnport_export_")
    jobs, cases = [], []
    pat = re.compile(a.filter) if a.filter else None
    for folder in FOLDERS:
        base = os.path.join(a.data, folder)
        for case in sorted(os.listdir(base)):
            name = folder + "/" + case
            cdir = os.path.join(base, case)
            model = os.path.join(cdir, "model.onnx")
            sets = sorted(d for d in os.listdir(cdir) if d.startswith("test_data_set_"))
            if (pat and not pat.search(name)) or not os.path.exists(model) or not sets:
                continue
            if not tensor_only(model):
                continue
            sdir = os.path.join(cdir, sets[0])
            scratch = os.path.join(work, folder, case)
            os.makedirs(scratch)
            inputs, expected = [], []
            try:
                for f in sorted(os.listdir(sdir), key=lambda s: int(re.sub(r"\D", "", s) or 0)):
                    n, arr = load_pb(os.path.join(sdir, f))
                    if f.startswith("input_"):
                        p = os.path.join(scratch, f[:-3] + ".npy")
                        np.save(p, arr)
                        inputs.append(p)
                    elif f.startswith("output_"):
                        expected.append((n, arr))
            except Exception as e:  # unreadable test data: not ours to judge
                if a.verbose:
                    print("skip %s: %s" % (name, e))
                continue
            exported = os.path.join(scratch, "exported.onnx")
            r = subprocess.run([a.nnport, a.verb, model, "-o", exported], capture_output=True, text=True)
            export_err = "" if r.returncode == 0 else (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
            jobs.append({"model": model, "out": os.path.join(scratch, "orig"), "inputs": inputs})
            if not export_err:
                jobs.append({"model": exported, "out": os.path.join(scratch, "exp"), "inputs": inputs})
            cases.append((name, scratch, expected, export_err))
    jobs_file = os.path.join(work, "jobs.json")
    json.dump(jobs, open(jobs_file, "w"))
    subprocess.run(["node", runner, "--batch", jobs_file], check=True)
    n_orig = n_exp = n_lifted = 0
    regressions = []
    for name, scratch, expected, export_err in cases:
        orig = compare(os.path.join(scratch, "orig"), expected)
        exp = export_err or compare(os.path.join(scratch, "exp"), expected)
        n_orig += orig == ""
        n_exp += exp == ""
        n_lifted += orig != "" and exp == ""
        if orig == "" and exp != "":
            regressions.append((name, exp))
        if a.verbose:
            print("%-70s orig: %-6s %s: %s" % (name, "ok" if not orig else "FAIL", a.verb, "ok" if not exp else exp))
    for name, why in regressions:
        print("%s REGRESSION: %s  # %s" % (a.verb.upper(), name, why))
    print("export_check: %d tensor-only cases; ONNX Runtime 1.30 passes %d as shipped and %d after nnport %s "
          "(%d only after it); %d regressions" % (len(cases), n_orig, n_exp, a.verb, n_lifted, len(regressions)))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
