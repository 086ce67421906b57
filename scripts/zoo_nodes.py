#!/usr/bin/python3
"""Finds the nodes where nnport diverges: runs a model with every intermediate value exposed as an output
(`nnport run -o`), then recomputes each node from nnport's own inputs to that node with a small NumPy/PyTorch
reference (float64) and prints the nodes whose outputs differ by more than the tolerance (relative to max|ref|).

    /usr/bin/python3 scripts/zoo_nodes.py models/zoo/resnet18_op13.onnx models/zoo/resnet18.input.npy \
        --nnport build/nnport

Covers the op types the zoo models use; others are reported as "no reference" and skipped.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def _pool_pads(x, pads, value):
    n = len(pads) // 2
    if not any(pads):
        return x
    torch_pads = []
    for i in reversed(range(n)):
        torch_pads += [pads[i], pads[i + n]]
    return F.pad(x, torch_pads, value=value)


def _conv(a, x, w, b=None):
    n = x.ndim - 2
    pads = a.get("pads", [0] * 2 * n)
    xt = _pool_pads(_t(x), list(pads), 0.0)
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    y = fn(xt, _t(w), None if b is None else _t(b), stride=a.get("strides", [1] * n),
           dilation=a.get("dilations", [1] * n), groups=a.get("group", 1))
    return y.numpy()


def _pool(a, x, kind):
    n = x.ndim - 2
    k = a["kernel_shape"]
    pads = list(a.get("pads", [0] * 2 * n))
    strides = a.get("strides", [1] * n)
    ceil = bool(a.get("ceil_mode", 0))
    if kind == "max":
        xt = _pool_pads(_t(x), pads, -np.inf)
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
        return fn(xt, k, strides, 0, a.get("dilations", [1] * n), ceil_mode=ceil).numpy()
    if a.get("count_include_pad", 0) or not any(pads):
        xt = _pool_pads(_t(x), pads, 0.0)
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
        return fn(xt, k, strides, 0, ceil_mode=ceil, count_include_pad=True).numpy()
    s = _pool_pads(_t(x), pads, 0.0)
    c = _pool_pads(torch.ones_like(_t(x)), pads, 0.0)
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
    return (fn(s, k, strides, 0, ceil_mode=ceil) / fn(c, k, strides, 0, ceil_mode=ceil)).numpy()


def _lstm(a, x, w, r, b=None, seq_lens=None, h0=None, c0=None):
    if a.get("direction", b"forward") not in (b"forward", "forward") or a.get("layout", 0) != 0:
        raise NotImplementedError("LSTM reference: forward direction, layout 0 only")
    seq, batch, _ = x.shape
    hidden = r.shape[-1]
    w, r = w[0], r[0]
    bias = np.zeros(8 * hidden) if b is None else b[0]
    h = np.zeros((batch, hidden)) if h0 is None else h0[0]
    c = np.zeros((batch, hidden)) if c0 is None else c0[0]
    sig = lambda v: 1 / (1 + np.exp(-v))
    ys = []
    for t in range(seq):
        g = x[t] @ w.T + h @ r.T + bias[:4 * hidden] + bias[4 * hidden:]
        i, o, f, cc = np.split(g, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(cc)
        h = sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys)[:, None], h[None], c[None]


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    idx = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        idx[int(ax)] = slice(int(s), int(e), int(st))
    return x[tuple(idx)]


def _erf(x):
    return torch.erf(_t(x)).numpy()


def _reduce_mean(a, x, axes=None):
    axes = a.get("axes", axes)
    axes = tuple(range(x.ndim)) if axes is None or len(axes) == 0 else tuple(int(v) for v in axes)
    return np.mean(x, axis=axes, keepdims=bool(a.get("keepdims", 1)))


def _layer_norm(a, x, scale, bias=None):
    axis = a.get("axis", -1) % x.ndim
    axes = tuple(range(axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale
    return y if bias is None else y + bias


def _batch_norm(a, x, scale, b, mean, var):
    shape = [1, -1] + [1] * (x.ndim - 2)
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + a.get("epsilon", 1e-5)) * scale.reshape(shape)
            + b.reshape(shape))


def _softmax(a, x):
    axis = a.get("axis", -1)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _gemm(a, A, B, C=None):
    A = A.T if a.get("transA", 0) else A
    B = B.T if a.get("transB", 0) else B
    y = a.get("alpha", 1.0) * (A @ B)
    return y if C is None else y + a.get("beta", 1.0) * C


def _reshape(a, x, shape):
    shape = [int(v) for v in shape]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def _pad(a, x, pads, value=None, axes=None):
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    n = len(pads) // 2
    width = [(int(pads[i]), int(pads[i + n])) for i in range(n)]
    if mode == "constant":
        return np.pad(x, width, constant_values=0 if value is None else value.item())
    return np.pad(x, width, mode={"reflect": "reflect", "edge": "edge"}[mode])


ONNX_TO_NP = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}

REF = {
    "Add": lambda a, x, y: x + y,
    "Sub": lambda a, x, y: x - y,
    "Mul": lambda a, x, y: x * y,
    "Div": lambda a, x, y: (x // y) if np.issubdtype(x.dtype, np.integer) else x / y,
    "Pow": lambda a, x, y: np.power(x, y),
    "Equal": lambda a, x, y: x == y,
    "Where": lambda a, c, x, y: np.where(c, x, y),
    "Relu": lambda a, x: np.maximum(x, 0),
    "Sigmoid": lambda a, x: 1 / (1 + np.exp(-x)),
    "Sqrt": lambda a, x: np.sqrt(x),
    "Erf": lambda a, x: _erf(x),
    "HardSigmoid": lambda a, x: np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda a, x: x * np.clip(x / 6 + 0.5, 0, 1),
    "Clip": lambda a, x, lo=None, hi=None: np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi),
    "Identity": lambda a, x: x,
    "Conv": _conv,
    "MaxPool": lambda a, x: _pool(a, x, "max"),
    "AveragePool": lambda a, x: _pool(a, x, "avg"),
    "GlobalAveragePool": lambda a, x: x.mean(axis=tuple(range(2, x.ndim)), keepdims=True),
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "Softmax": _softmax,
    "Gemm": _gemm,
    "MatMul": lambda a, x, y: np.matmul(x, y),
    "Flatten": lambda a, x: x.reshape(int(np.prod(x.shape[:a.get("axis", 1) % max(x.ndim, 1)])), -1),
    "Reshape": _reshape,
    "Transpose": lambda a, x: np.transpose(x, a.get("perm")),
    "Concat": lambda a, *xs: np.concatenate(xs, axis=a["axis"]),
    "Shape": lambda a, x: np.array(x.shape[a.get("start", 0):a.get("end", x.ndim)], dtype=np.int64),
    "Gather": lambda a, x, i: np.take(x, i.astype(np.int64), axis=a.get("axis", 0)),
    "Slice": lambda a, x, *r: _slice(x, *r),
    "Unsqueeze": lambda a, x, axes: np.expand_dims(x, tuple(int(v) % (x.ndim + len(axes)) for v in axes)),
    "Squeeze": lambda a, x, axes=None: np.squeeze(x, None if axes is None else tuple(int(v) for v in axes)),
    "Expand": lambda a, x, s: x * np.ones([int(v) for v in s], dtype=x.dtype),
    "Cast": lambda a, x: x.astype(ONNX_TO_NP[a["to"]]),
    "Constant": lambda a: numpy_helper.to_array(a["value"]),
    "ConstantOfShape": lambda a, s: np.full([int(v) for v in s], numpy_helper.to_array(a["value"]).item()
                                            if "value" in a else 0.0,
                                            dtype=numpy_helper.to_array(a["value"]).dtype if "value" in a else np.float32),
    "ReduceMean": _reduce_mean,
    "Pad": _pad,
    "LSTM": _lstm,
}


def rel_err(got, ref):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    return float(np.max(np.abs(got - ref)) / max(float(np.max(np.abs(ref))), 1e-6))


def check_node(node, values, got, args, missing_ref, reported):
    """Recomputes one node from `values`; prints and counts outputs that differ from nnport's `got`."""
    fn = REF.get(node.op_type)
    if fn is None:
        missing_ref.add(node.op_type)
        return 0
    if any(i and i not in values for i in node.input):
        return 0
    ins = [values[i] if i else None for i in node.input]
    ins64 = [x.astype(np.float64) if x is not None and x.dtype in (np.float32, np.float16) else x for x in ins]
    while ins64 and ins64[-1] is None:
        ins64.pop()
    try:
        ref = fn(_attrs(node), *ins64)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"{node.name} ({node.op_type}): reference failed: {e}")
        return 0
    bad = 0
    for out, rv in zip(node.output, ref if isinstance(ref, tuple) else (ref,)):
        if not out or out not in got:
            continue
        err = rel_err(got[out], rv)
        if err > args.tol:
            bad += 1
            if reported + bad <= args.max_report:
                print(f"DIVERGES {node.name} ({node.op_type}) output '{out}': rel err {err:.3g}; "
                      f"got shape {list(got[out].shape)}, ref {list(np.shape(rv))}; attrs {_attrs(node)}; "
                      f"input shapes {[None if x is None else list(x.shape) for x in ins]}")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="+", help="NAME=FILE.npy or FILE.npy (positional for the first input)")
    ap.add_argument("--nnport", default="build/nnport")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-report", type=int, default=10)
    args = ap.parse_args()

    model = onnx.load(args.model)
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    vinfo = {v.name: v for v in list(inferred.graph.value_info) + list(graph.output)}
    known_outputs = {o.name for o in graph.output}
    for node in graph.node:
        for out in node.output:
            if out and out not in known_outputs:
                graph.output.append(vinfo.get(out, helper.make_empty_tensor_value_info(out)))
                known_outputs.add(out)

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    feeds = []
    graph_inputs = [i.name for i in graph.input if i.name not in values]
    for k, spec in enumerate(args.inputs):
        name, path = spec.split("=", 1) if "=" in spec and not os.path.exists(spec) else (graph_inputs[k], spec)
        values[name] = np.load(path)
        feeds += ["-i", f"{name}={path}"]

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "all_outputs.onnx")
        onnx.save(model, path)
        out_dir = os.path.join(tmp, "out")
        r = subprocess.run([args.nnport, "run", path, *feeds, "-o", out_dir], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"nnport run failed ({r.returncode}):\n{r.stderr}")
        with open(os.path.join(out_dir, "outputs.json")) as f:
            got = {o["name"]: np.load(os.path.join(out_dir, o["file"])) for o in json.load(f)["outputs"]
                   if o.get("file")}

    bad = 0
    missing_ref = set()
    for node in graph.node:
        bad += check_node(node, values, got, args, missing_ref, bad)
        for out in node.output:  # go on from nnport's values so each node is judged on its own inputs
            if out in got:
                values[out] = got[out]
    if missing_ref:
        print("no reference for: " + ", ".join(sorted(missing_ref)))
    print(f"{bad} diverging node outputs of {len(graph.node)} nodes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
