#!/usr/bin/python3
"""Generates the model-zoo golden data for nnport's zoo tests.

For each model (torchvision with random weights, plus a small TransformerEncoder and an LSTM) and each opset it exports
`<out>/<model>_op<opset>.onnx`, saves the input as `<model>.input.npy`, PyTorch's outputs as `<model>.output<K>.npy`,
and (re)writes `<out>/manifest.json`, which tests/golden/zoo_test.cpp reads.

Run with Debian's python (torch 1.13, torchvision 0.14, onnx 1.12); no network needed:

    /usr/bin/python3 scripts/gen_zoo.py            # all models, opsets 13 and 17, into models/zoo
    /usr/bin/python3 scripts/gen_zoo.py --fast     # the CI subset
    /usr/bin/python3 scripts/gen_zoo.py --models resnet18,lstm --force
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "models", "zoo")
DEFAULT_OPSETS = (13, 17)
FAST = ("resnet18", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2", "transformer", "lstm")
TOLERANCE = 1e-4


class _Gelu(nn.Module):
    """GELU that torch's TransformerEncoderLayer does not recognise, so eval mode never takes its fused fast path
    (aten::_transformer_encoder_layer_fwd has no ONNX export)."""

    def forward(self, x):
        return F.gelu(x)


class TransformerModel(nn.Module):
    """2-layer batch-first TransformerEncoder (d_model 64, 4 heads, GELU) with a linear head."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, dropout=0.0,
                                           activation=_Gelu(), batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(64, 16)

    def forward(self, x):
        return self.head(self.encoder(x))


class LstmModel(nn.Module):
    """2-layer batch-first LSTM (input 32, hidden 64) with a linear head on every step; also returns h_n and c_n."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=32, hidden_size=64, num_layers=2, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return self.head(y), h, c


def _vit_b_16():
    m = torchvision.models.vit_b_16(weights=None)
    # torchvision zero-initialises the classifier head and the class token: the outputs would all be 0.
    nn.init.normal_(m.heads.head.weight, std=0.02)
    nn.init.normal_(m.heads.head.bias, std=0.02)
    nn.init.normal_(m.class_token, std=0.02)
    return m


def _convnext_tiny():
    m = torchvision.models.convnext_tiny(weights=None)
    # The default layer scale (1e-6) makes every block almost an identity, so the blocks would go untested.
    for block in m.modules():
        if isinstance(block, torchvision.models.convnext.CNBlock):
            with torch.no_grad():
                block.layer_scale.uniform_(0.1, 0.5)
    return m


def _vision(name):
    return lambda: getattr(torchvision.models, name)(weights=None)


VISION = (1, 3, 224, 224)
# name -> (constructor, input shape, output names, dynamic axes or None)
MODELS = {
    "resnet18": (_vision("resnet18"), VISION, ["output"], {"input": {0: "batch"}, "output": {0: "batch"}}),
    "resnet50": (_vision("resnet50"), VISION, ["output"], None),
    "mobilenet_v2": (_vision("mobilenet_v2"), VISION, ["output"], None),
    "mobilenet_v3_small": (_vision("mobilenet_v3_small"), VISION, ["output"], None),
    "squeezenet1_1": (_vision("squeezenet1_1"), VISION, ["output"], None),
    "shufflenet_v2": (_vision("shufflenet_v2_x1_0"), VISION, ["output"], None),
    "efficientnet_b0": (_vision("efficientnet_b0"), VISION, ["output"], None),
    "densenet121": (_vision("densenet121"), VISION, ["output"], None),
    "regnet_y_400mf": (_vision("regnet_y_400mf"), VISION, ["output"], None),
    "convnext_tiny": (_convnext_tiny, VISION, ["output"], None),
    "vit_b_16": (_vit_b_16, VISION, ["output"], None),
    "transformer": (TransformerModel, (1, 16, 64), ["output"], {"input": {0: "batch"}, "output": {0: "batch"}}),
    "lstm": (LstmModel, (1, 10, 32), ["output", "h_n", "c_n"], None),
}


def _calibrate_batchnorm(model, shape):
    """Gives BatchNorm layers random affine parameters and running statistics that match the data they see.

    torchvision's init leaves BN as y = x (mean 0, var 1, weight 1, bias 0), which would hide kernel bugs; fully random
    statistics would make deep nets blow up. So: random affine first, then accumulate true batch statistics in train
    mode on random inputs, then back to eval mode.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(2):
            model(torch.randn(4, *shape[1:]))
    model.eval()


def _files(name, n_outputs, opsets):
    onnx_files = {op: f"{name}_op{op}.onnx" for op in opsets}
    return onnx_files, f"{name}.input.npy", [f"{name}.output{k}.npy" for k in range(n_outputs)]


def _check_outputs(name, outputs):
    for k, y in enumerate(outputs):
        if not np.all(np.isfinite(y)):
            sys.exit(f"gen_zoo: {name}: output {k} has non-finite values")
        if float(np.std(y)) < 1e-6 or float(np.max(np.abs(y))) < 1e-5:
            sys.exit(f"gen_zoo: {name}: output {k} is degenerate (std {np.std(y):.3g}, max {np.max(np.abs(y)):.3g})")


def generate(name, out_dir, opsets, force):
    """Exports one model for every opset; returns its manifest entries, or None when skipped (files already there)."""
    ctor, shape, out_names, dyn = MODELS[name]
    onnx_files, in_file, out_files = _files(name, len(out_names), opsets)
    wanted = list(onnx_files.values()) + [in_file] + out_files
    if not force and all(os.path.exists(os.path.join(out_dir, f)) for f in wanted):
        return None
    # All files of a model are written together: the reference outputs must come from the exported weights.
    t0 = time.time()
    torch.manual_seed(0)
    model = ctor()
    model.eval()
    _calibrate_batchnorm(model, shape)
    x = torch.randn(*shape)
    with torch.no_grad():
        y = model(x)
    outputs = [t.numpy() for t in (y if isinstance(y, (tuple, list)) else (y,))]
    assert len(outputs) == len(out_names), name
    _check_outputs(name, outputs)
    np.save(os.path.join(out_dir, in_file), x.numpy())
    for f, arr in zip(out_files, outputs):
        np.save(os.path.join(out_dir, f), arr)
    for op, f in onnx_files.items():
        path = os.path.join(out_dir, f)
        tmp = path + ".tmp"
        torch.onnx.export(model, (x,), tmp, opset_version=op, input_names=["input"], output_names=out_names,
                          dynamic_axes=dyn, do_constant_folding=True)
        onnx.checker.check_model(tmp)
        os.replace(tmp, path)
    print(f"gen_zoo: {name}: {time.time() - t0:.1f}s", flush=True)
    return True


def _entry(name, opset, out_dir):
    _, shape, out_names, dyn = MODELS[name]
    onnx_files, in_file, out_files = _files(name, len(out_names), [opset])
    model = onnx.load(os.path.join(out_dir, onnx_files[opset]), load_external_data=False)
    ops = sorted({n.op_type for n in model.graph.node})
    return {
        "model": name,
        "opset": opset,
        "file": onnx_files[opset],
        "nodes": len(model.graph.node),
        "op_types": ops,
        "dynamic_batch": dyn is not None,
        "fast": name in FAST,
        "inputs": [{"name": "input", "file": in_file, "shape": list(shape)}],
        "outputs": [{"name": n, "file": f} for n, f in zip(out_names, out_files)],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: models/zoo in the repository)")
    ap.add_argument("--models", help="comma-separated subset of: " + ",".join(MODELS))
    ap.add_argument("--fast", action="store_true", help="only the CI subset: " + ",".join(FAST))
    ap.add_argument("--opsets", default=",".join(map(str, DEFAULT_OPSETS)), help="comma-separated (default 13,17)")
    ap.add_argument("--force", action="store_true", help="regenerate files that already exist")
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(MODELS))
        return
    names = list(FAST) if args.fast else list(MODELS)
    if args.models:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
        unknown = [n for n in names if n not in MODELS]
        if unknown:
            sys.exit(f"gen_zoo: unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    opsets = [int(o) for o in args.opsets.split(",")]
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    t0 = time.time()
    for name in names:
        if generate(name, args.out, opsets, args.force) is None:
            print(f"gen_zoo: {name}: up to date", flush=True)

    # The manifest lists every (model, opset) whose files are present, so subsets generated at different times merge.
    entries = []
    for name in MODELS:
        for op in sorted(set(opsets) | set(DEFAULT_OPSETS)):
            onnx_files, in_file, out_files = _files(name, len(MODELS[name][2]), [op])
            if all(os.path.exists(os.path.join(args.out, f)) for f in [onnx_files[op], in_file] + out_files):
                entries.append(_entry(name, op, args.out))
    manifest = {
        "format": 1,
        "tolerance": TOLERANCE,
        "error": "max|nnport - torch| / max(max|torch|, 1e-6), per output",
        "generator": {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__},
        "models": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"gen_zoo: {len(entries)} model files in {args.out}/manifest.json ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
