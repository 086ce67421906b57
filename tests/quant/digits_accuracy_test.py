#!/usr/bin/python3
"""Accuracy gate of quantization on a really trained model: the digits CNN of scripts/gen_digits.py.

nnport runs the fp32 model on the 400-sample test set: its top-1 accuracy must equal torch's (written by gen_digits.py
into meta.json) within 0.25 points (one sample). Then `nnport quantize --mode int8-static` calibrates on the 100
training samples of models/digits/calib with every method; each quantized model must run, and the best method's
top-1 accuracy may drop at most 0.5 points from nnport's fp32 accuracy. A calibration folder whose samples have the
wrong shape must be rejected with an error naming the input.

Exits 77 (ctest SKIP_RETURN_CODE) when the model is not generated (run scripts/gen_digits.py).

    /usr/bin/python3 tests/quant/digits_accuracy_test.py --nnport build/nnport [--digits models/digits]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = ("minmax", "percentile", "entropy", "mse")
FP32_TOLERANCE = 0.25  # points: one test sample of 400
INT8_MAX_DROP = 0.5  # points, best calibration method


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def top1(nnport, model, digits, tmp, tag):
    """nnport's top-1 accuracy (percent) of model on the test set; raises RuntimeError if the run fails."""
    out = os.path.join(tmp, tag)
    rc, log = run([nnport, "run", model, "-i", "input=" + os.path.join(digits, "test_x.npy"), "-o", out])
    if rc != 0:
        raise RuntimeError(f"nnport run {model} failed: {log.strip()}")
    logits = np.load(os.path.join(out, "logits.npy"))
    labels = np.load(os.path.join(digits, "test_y.npy"))
    if logits.shape != (len(labels), 10):
        raise RuntimeError(f"{model}: logits of shape {logits.shape}, expected {(len(labels), 10)}")
    return 100.0 * float((logits.argmax(1) == labels).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nnport", required=True, help="nnport binary")
    ap.add_argument("--digits", default=os.path.join(ROOT, "models", "digits"), help="gen_digits.py output folder")
    args = ap.parse_args()
    model = os.path.join(args.digits, "digits_cnn.onnx")
    meta_path = os.path.join(args.digits, "meta.json")
    if not (os.path.isfile(model) and os.path.isfile(meta_path)):
        print(f"SKIP: {model} not generated (run /usr/bin/python3 scripts/gen_digits.py)")
        return 77
    with open(meta_path) as f:
        torch_acc = json.load(f)["torch_accuracy"]
    failures = []
    with tempfile.TemporaryDirectory(prefix="nnport_digits_") as tmp:
        fp32 = top1(args.nnport, model, args.digits, tmp, "fp32")
        print(f"fp32: nnport {fp32:.2f}%, torch {torch_acc:.2f}%")
        if abs(fp32 - torch_acc) > FP32_TOLERANCE:
            failures.append(f"fp32 accuracy {fp32:.2f}% differs from torch's {torch_acc:.2f}% by more than "
                            f"{FP32_TOLERANCE} points")
        best = None
        for m in METHODS:
            q = os.path.join(tmp, f"int8_{m}.onnx")
            rc, log = run([args.nnport, "quantize", model, "-o", q, "--mode", "int8-static", "--calibration", m,
                           "--data", os.path.join(args.digits, "calib")])
            if rc != 0:
                failures.append(f"quantize --calibration {m} failed: {log.strip()}")
                continue
            acc = top1(args.nnport, q, args.digits, tmp, "int8_" + m)
            print(f"int8-static {m}: {acc:.2f}% (drop {fp32 - acc:+.2f} points)")
            best = acc if best is None else max(best, acc)
        if best is None or fp32 - best > INT8_MAX_DROP:
            failures.append(f"best int8-static accuracy {best}% drops more than {INT8_MAX_DROP} points from "
                            f"fp32 {fp32:.2f}%")

        # Decline: calibration samples of the wrong shape ([1,1,4,4]) must be rejected, naming the input.
        bad = os.path.join(tmp, "bad_calib", "000")
        os.makedirs(bad)
        np.save(os.path.join(bad, "input.npy"), np.zeros((1, 1, 4, 4), np.float32))
        rc, log = run([args.nnport, "quantize", model, "-o", os.path.join(tmp, "bad.onnx"), "--mode", "int8-static",
                       "--data", os.path.dirname(bad)])
        if rc == 0 or "input" not in log:
            failures.append(f"quantize accepted calibration data of the wrong shape (rc {rc}): {log.strip()}")
        else:
            print(f"wrong-shape calibration data rejected: {log.strip().splitlines()[-1]}")
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
