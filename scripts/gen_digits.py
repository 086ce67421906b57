#!/usr/bin/python3
"""Trains the small digits CNN that measures how much accuracy compression (fp16, int8, pruning) really costs.

The data is scikit-learn's handwritten digits set (8x8 grey images, 1797 samples, shipped inside Debian's
python3-sklearn: no download). A seeded split keeps 400 samples as the test set; a CNN (conv-bn-relu x2, max-pool,
linear) is trained on the other 1397 on the CPU in a few seconds, seeded, so every run writes the same model.

Writes into --out (default models/digits, generated and git-ignored like models/zoo):
    digits_cnn.onnx        opset 17, input `input` float32 [N,1,8,8] (N symbolic), output `logits` [N,10]
    test_x.npy, test_y.npy the test set: float32 [400,1,8,8] and int64 [400]
    calib/NNN/input.npy    100 training samples, one [1,1,8,8] file per sample folder (`nnport quantize --data`)
    meta.json              seed, split sizes and torch's fp32 test accuracy (read by the accuracy test)

    /usr/bin/python3 scripts/gen_digits.py [--out DIR] [--force]
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "models", "digits")
SEED = 20261123
N_TEST = 400
N_CALIB = 100
EPOCHS = 40


class DigitsCnn(nn.Module):
    """conv3x3(16)-bn-relu, conv3x3(32)-bn-relu, 2x2 max-pool, linear 32*4*4 -> 10."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def load_split():
    """(train_x, train_y, test_x, test_y): images scaled to [0, 1] as float32 [N,1,8,8], labels int64."""
    from sklearn.datasets import load_digits  # imported here so --help works without python3-sklearn

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(SEED).permutation(len(y))
    test, train = perm[:N_TEST], perm[N_TEST:]
    return x[train], y[train], x[test], y[test]


def train(train_x, train_y):
    torch.manual_seed(SEED)
    model = DigitsCnn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    xs, ys = torch.from_numpy(train_x), torch.from_numpy(train_y)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(ys), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xs[idx]), ys[idx]).backward()
            opt.step()
        sched.step()
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: models/digits in the repository)")
    ap.add_argument("--force", action="store_true", help="retrain even when the files are already there")
    args = ap.parse_args()
    model_path = os.path.join(args.out, "digits_cnn.onnx")
    meta_path = os.path.join(args.out, "meta.json")
    if not args.force and os.path.isfile(model_path) and os.path.isfile(meta_path):
        with open(meta_path) as f:
            print(f"gen_digits: {model_path} exists (fp32 test accuracy {json.load(f)['torch_accuracy']:.2f}%); "
                  "--force retrains")
        return
    try:
        train_x, train_y, test_x, test_y = load_split()
    except ImportError:
        sys.exit("gen_digits: scikit-learn is missing (apt-get install python3-sklearn, or run scripts/setup.sh)")
    torch.set_num_threads(1)  # bit-identical training on every machine of the same torch build
    model = train(train_x, train_y)
    with torch.no_grad():
        logits = model(torch.from_numpy(test_x)).numpy()
    acc = 100.0 * float((logits.argmax(1) == test_y).mean())

    os.makedirs(args.out, exist_ok=True)
    torch.onnx.export(model, torch.from_numpy(test_x[:1]), model_path, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    onnx.checker.check_model(onnx.load(model_path))
    np.save(os.path.join(args.out, "test_x.npy"), test_x)
    np.save(os.path.join(args.out, "test_y.npy"), test_y)
    np.save(os.path.join(args.out, "test_logits.npy"), logits)
    calib = os.path.join(args.out, "calib")
    shutil.rmtree(calib, ignore_errors=True)
    for i in range(N_CALIB):
        os.makedirs(os.path.join(calib, f"{i:03d}"))
        np.save(os.path.join(calib, f"{i:03d}", "input.npy"), train_x[i:i + 1])
    with open(meta_path, "w") as f:
        json.dump({"seed": SEED, "train": int(len(train_y)), "test": int(len(test_y)), "calibration": N_CALIB,
                   "epochs": EPOCHS, "torch_accuracy": acc}, f, indent=1)
    print(f"gen_digits: wrote {model_path}; fp32 test accuracy (torch) {acc:.2f}% on {len(test_y)} samples")


if __name__ == "__main__":
    main()
