#!/usr/bin/python3
"""Quantization gate: models written by `nnport quantize` (fp16, int8-dynamic, int8-static with every calibration
method and both activation types) must load and run in ONNX Runtime 1.30 and agree with nnport's own run of the same
quantized file, and stay close to the float32 model.

    /usr/bin/python3 tests/ort/quantize_check.py --nnport build/nnport [--zoo models/zoo] [--verbose]

A small conv+relu+pool+gemm model (built here with onnx.helper) is always checked; with --zoo, resnet18_op17 and
mobilenet_v2_op17 are checked too when present (int8-static min-max and fp16), with their sizes reported. ONNX Runtime
computes QDQ graphs in integer arithmetic (QLinearConv) where nnport dequantizes and computes in float, so the two
agree to a few quantization steps of the output: the bound is relative to the output's range. Exit 1 on a failure.
Needs tools/ort/node_modules (scripts/setup.sh installs it).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(ROOT, "tools", "ort", "ort_run.js")


def small_model(path):
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32), "w1"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b1"),
        numpy_helper.from_array((rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32), "w2"),
        numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b2"),
        numpy_helper.from_array((rng.standard_normal((10, 128)) * 0.1).astype(np.float32), "fw"),
        numpy_helper.from_array((rng.standard_normal(10) * 0.1).astype(np.float32), "fb"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], name="soft", axis=1),
    ]
    g = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def run_ort(model, out_dir, inputs):
    r = subprocess.run(["node", RUNNER, model, out_dir] + inputs, capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip() or r.stdout.strip() or "ort failed").splitlines()[-1]
    return outputs_of(out_dir), ""


def run_nnport(nnport, model, out_dir, inputs):
    r = subprocess.run([nnport, "run", model, "-o", out_dir, "--threads", "1"] + ["-i" + i for i in inputs],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip() or "nnport run failed").splitlines()[-1]
    return outputs_of(out_dir), ""


def outputs_of(out_dir):
    index = json.load(open(os.path.join(out_dir, "outputs.json")))["outputs"]
    return [np.load(os.path.join(out_dir, o["file"])).astype(np.float64) for o in index]


def rel(got, want):
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-6))


def check(a, work, name, model, inputs, mode, extra, tol_ort, tol_float, failures):
    tag = "%s %s %s" % (name, mode, " ".join(extra))
    out = os.path.join(work, "%s_%s_%d.onnx" % (name, mode, len(os.listdir(work))))
    r = subprocess.run([a.nnport, "quantize", model, "-o", out, "--mode", mode, "--threads", "2"] + extra,
                       capture_output=True, text=True)
    if r.returncode != 0:
        failures.append("%s: quantize failed: %s" % (tag, r.stderr.strip()))
        return
    ref, err = run_ort(model, out + ".fp32", inputs)
    ort, err = run_ort(out, out + ".ort", inputs)
    if ort is None:
        failures.append("%s: ONNX Runtime cannot run it: %s" % (tag, err))
        return
    mine, err = run_nnport(a.nnport, out, out + ".nnport", inputs)
    if mine is None:
        failures.append("%s: nnport cannot run it: %s" % (tag, err))
        return
    e_ort = max(rel(m, o) for m, o in zip(mine, ort))
    e_float = max(rel(o, f) for o, f in zip(ort, ref))
    ratio = os.path.getsize(out) / os.path.getsize(model)
    line = "%-55s size %.3f x  nnport vs ORT %.2e  ORT quantized vs float %.2e" % (tag, ratio, e_ort, e_float)
    if a.verbose or name != "small":
        print(line)
    if e_ort > tol_ort:
        failures.append("%s: nnport and ONNX Runtime differ by %.3g (> %g) on the quantized model" % (tag, e_ort, tol_ort))
    if e_float > tol_float:
        failures.append("%s: quantized outputs differ from float32 by %.3g (> %g)" % (tag, e_float, tol_float))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnport", required=True)
    ap.add_argument("--zoo", default="")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node")):
        sys.exit("quantize_check: tools/ort/node_modules is missing; run scripts/setup.sh")
    work = tempfile.mkdtemp(prefix="nnport_quant_")
    failures = []
    small = os.path.join(work, "small.onnx")
    small_model(small)
    calib = os.path.join(work, "calib")
    os.makedirs(calib)
    rng = np.random.default_rng(11)
    for k in range(4):
        np.save(os.path.join(calib, "s%d.npy" % k), rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32))
    x = os.path.join(calib, "s0.npy")
    check(a, work, "small", small, [x], "fp16", [], 1e-3, 1e-2, failures)
    check(a, work, "small", small, [x], "int8-dynamic", [], 1e-4, 0.05, failures)
    for method in ("minmax", "percentile", "entropy", "mse"):
        for act in ("uint8", "int8"):
            check(a, work, "small", small, [x], "int8-static",
                  ["--data", calib, "--calibration", method, "--activation-type", act], 0.05, 0.15, failures)
    check(a, work, "small", small, [x], "int8-static", ["--data", calib, "--exclude", "conv2"], 0.05, 0.15, failures)
    if a.zoo:
        for stem in ("resnet18", "mobilenet_v2"):
            model = os.path.join(a.zoo, stem + "_op17.onnx")
            inp = os.path.join(a.zoo, stem + ".input.npy")
            if not (os.path.exists(model) and os.path.exists(inp)):
                continue
            zcal = os.path.join(work, stem + "_calib")
            os.makedirs(zcal)
            shutil.copy(inp, os.path.join(zcal, "input.npy"))
            check(a, work, stem, model, [inp], "fp16", [], 1e-2, 0.05, failures)
            # Per-channel int8 in ORT (QLinearConv, integer requantization) and in nnport (float on dequantized values)
            # round differently; on mobilenet_v2 that is within its own quantization error (about 0.2 of the range).
            check(a, work, stem, model, [inp], "int8-static", ["--data", zcal], 0.25, 0.5, failures)
    for f in failures:
        print("QUANTIZE FAILURE: " + f)
    print("quantize_check: %d failure(s)" % len(failures))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
