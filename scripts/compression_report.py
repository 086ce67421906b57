#!/usr/bin/python3
"""Writes docs/COMPRESSION.md: size, accuracy and latency of nnport's compressed models, in one run.

1. The trained digits CNN (scripts/gen_digits.py, 400 test samples): file size and top-1 accuracy of fp32, fp16,
   int8-dynamic, int8-static with each calibration method (100 training samples) and, when `nnport prune` exists,
   pruned at 30/50/70% sparsity.
2. resnet18, resnet50 and mobilenet_v2 (models/zoo/*_op17.onnx, random weights, so there is no accuracy to measure):
   fp16 and int8-static (synthetic calibration) file size ratios, and output cosine / SQNR / top-1 agreement with
   nnport's fp32 outputs on synthetic inputs that differ from the calibration inputs.
3. 1-thread latency of nnport fp32, nnport int8 and ONNX Runtime on the same fp32 and int8 QDQ files, measured by
   bench/compare_ort.py (interleaved rounds of `nnport bench` and onnxruntime-node).

Every figure is checked against the compression targets; the doc says which ones miss. Intermediate models go to
--work (default out/compression, git-ignored). About 5-15 minutes on a 2-core machine.

    /usr/bin/python3 scripts/compression_report.py [--nnport build/nnport] [--out docs/COMPRESSION.md]
                                                    [--eval-samples 16] [--rounds 3] [--quick]
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "models", "zoo")
DIGITS = os.path.join(ROOT, "models", "digits")
ZOO_MODELS = ("resnet18", "resnet50", "mobilenet_v2")
METHODS = ("minmax", "percentile", "entropy", "mse")
SPARSITIES = (0.3, 0.5, 0.7)
# Targets of the compression work (the project's compression issue).
INT8_SIZE_MAX, FP16_SIZE_MAX = 0.27, 0.52
INT8_LATENCY_MAX = 0.45  # nnport int8 / nnport fp32, 1 thread, resnet50 and mobilenet_v2
DIGITS_DROP_MAX = 0.5  # top-1 points, int8-static with the best calibration method
LATENCY_TARGET_MODELS = ("resnet50", "mobilenet_v2")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout=900):
    """Runs cmd; returns stdout, raising RuntimeError with the command's last output line on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        lines = (p.stderr or p.stdout).strip().splitlines()
        raise RuntimeError(f"{os.path.basename(cmd[0])} {cmd[1]}: " + (lines[-1] if lines else f"exit {p.returncode}"))
    return p.stdout


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def nnport_outputs(nnport, model, feeds, out_dir):
    """Runs model on feeds ([(name, .npy)]); returns its outputs as a list of arrays in outputs.json order."""
    cmd = [nnport, "run", model, "-o", out_dir]
    for n, p in feeds:
        cmd += ["-i", f"{n}={p}"]
    run(cmd)
    names = sorted(f for f in os.listdir(out_dir) if f.endswith(".npy"))
    return [np.load(os.path.join(out_dir, f)).astype(np.float64) for f in names]


def size_of(path):
    return os.path.getsize(path)


def quantize(nnport, model, out, mode, extra=()):
    run([nnport, "quantize", model, "-o", out, "--mode", mode, *extra])
    return out


def prune(nnport, model, out, extra):
    run([nnport, "prune", model, "-o", out, *extra])
    return out


# --- 1. digits CNN -------------------------------------------------------------------------------------------------


def prune_variants(nnport):
    """[(label, extra args)] for `nnport prune` at each sparsity, or None when the CLI has no prune command."""
    p = subprocess.run([nnport, "prune", "--help"], capture_output=True, text=True)
    if p.returncode != 0 or "--sparsity" not in p.stdout:
        return None
    data = ["--data", os.path.join(DIGITS, "calib")] if "--data" in p.stdout else []
    out = [(f"pruned {int(s * 100)}% (unstructured)", ["--sparsity", str(s), *data]) for s in SPARSITIES]
    if "--global" in p.stdout:
        out += [(f"pruned {int(s * 100)}% (unstructured, global)", ["--sparsity", str(s), "--global", *data])
                for s in SPARSITIES]
    if "--structured" in p.stdout:
        refit = ["--refit"] if "--refit" in p.stdout else []
        out += [(f"pruned {int(s * 100)}% (structured{', refit' if refit else ''})",
                 ["--sparsity", str(s), "--structured", *refit, *data]) for s in SPARSITIES]
    return out


def digits_section(nnport, work):
    model = os.path.join(DIGITS, "digits_cnn.onnx")
    if not os.path.isfile(model):
        run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "gen_digits.py"), "--out", DIGITS])
    with open(os.path.join(DIGITS, "meta.json")) as f:
        meta = json.load(f)
    labels = np.load(os.path.join(DIGITS, "test_y.npy"))
    feeds = [("input", os.path.join(DIGITS, "test_x.npy"))]
    calib = ["--data", os.path.join(DIGITS, "calib")]
    # (label, function writing the variant to the given path and returning the path to run)
    variants = [("fp32", lambda o: model),
                ("fp16", lambda o: quantize(nnport, model, o, "fp16")),
                ("int8-dynamic", lambda o: quantize(nnport, model, o, "int8-dynamic"))]
    for m in METHODS:
        variants.append((f"int8-static {m}",
                         lambda o, m=m: quantize(nnport, model, o, "int8-static", [*calib, "--calibration", m])))
    pv = prune_variants(nnport)
    for label, extra in pv or []:
        variants.append((label, lambda o, extra=extra: prune(nnport, model, o, extra)))
    rows, ref = [], None
    for label, make in variants:
        log(f"digits: {label}")
        path = os.path.join(work, "digits_" + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") + ".onnx")
        try:
            path = make(path)
            logits = nnport_outputs(nnport, path, feeds, path + ".out")[0]
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            rows.append({"variant": label, "error": str(e)})
            continue
        ref = logits if ref is None else ref
        pred = logits.argmax(1)
        noise = max(float(((logits - ref) ** 2).sum()), 1e-30)
        rows.append({"variant": label, "bytes": size_of(path), "top1": 100.0 * float((pred == labels).mean()),
                     "agree": 100.0 * float((pred == ref.argmax(1)).mean()),
                     "sqnr": 10.0 * np.log10(float((ref ** 2).sum()) / noise)})
    params = sum(int(np.prod(t.dims)) for t in onnx.load(model).graph.initializer)
    return {"meta": meta, "rows": rows, "prune": pv is not None, "params": params}


# --- 2. zoo: sizes and output agreement ------------------------------------------------------------------------------


def synthetic_feeds(info, n, seed, folder):
    """n samples of standard-normal inputs for every model input, each sample in its own sub-folder (the layout of
    `nnport quantize --data`); returns [[(name, path)]] per sample."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n):
        d = os.path.join(folder, f"{s:03d}")
        os.makedirs(d, exist_ok=True)
        sample = []
        for inp in info["inputs"]:
            shape = [dim if isinstance(dim, int) else 1 for dim in inp["shape"]]
            path = os.path.join(d, inp["name"] + ".npy")
            np.save(path, rng.standard_normal(shape).astype(np.float32))
            sample.append((inp["name"], path))
        out.append(sample)
    return out


def agreement(ref, test):
    """(cosine, SQNR dB, top-1 agreement %) of test outputs against ref over all samples (first output)."""
    r = np.concatenate([o[0].ravel() for o in ref])
    t = np.concatenate([o[0].ravel() for o in test])
    cos = float(r @ t / max(np.linalg.norm(r) * np.linalg.norm(t), 1e-30))
    sqnr = float(10.0 * np.log10(max((r * r).sum(), 1e-30) / max(((r - t) ** 2).sum(), 1e-30)))
    top1 = 100.0 * float(np.mean([o[0].reshape(-1).argmax() == q[0].reshape(-1).argmax() for o, q in zip(ref, test)]))
    return cos, sqnr, top1


def zoo_section(nnport, work, args):
    rows = []
    for name in ZOO_MODELS:
        model = os.path.join(ZOO, f"{name}_op17.onnx")
        if not os.path.isfile(model):
            rows.append({"model": name, "error": f"{model} missing (run scripts/gen_zoo.py --models {name})"})
            continue
        log(f"zoo: {name}")
        info = json.loads(run([nnport, "inspect", "--json", model]))
        calib_dir = os.path.join(work, f"{name}.calib")
        synthetic_feeds(info, args.calib_samples, 1, calib_dir)
        evals = synthetic_feeds(info, args.eval_samples, 2, os.path.join(work, f"{name}.eval"))
        row = {"model": name, "fp32": model, "bytes": size_of(model)}
        try:
            row["fp16"] = quantize(nnport, model, os.path.join(work, f"{name}_fp16.onnx"), "fp16")
            row["int8"] = quantize(nnport, model, os.path.join(work, f"{name}_int8.onnx"), "int8-static",
                                   ["--data", calib_dir, "--calibration", args.zoo_calibration])
            outs = {}
            for v in ("fp32", "fp16", "int8"):
                outs[v] = [nnport_outputs(nnport, row[v], s, os.path.join(work, f"{name}.{v}.out{i}"))
                           for i, s in enumerate(evals)]
            for v in ("fp16", "int8"):
                row[v + "_bytes"] = size_of(row[v])
                row[v + "_cos"], row[v + "_sqnr"], row[v + "_top1"] = agreement(outs["fp32"], outs[v])
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            row["error"] = str(e)
        rows.append(row)
    return rows


# --- 3. latency ----------------------------------------------------------------------------------------------------


def latency_section(nnport, work, zoo_rows, args):
    models = [r[k] for k in ("fp32", "int8") for r in zoo_rows if "error" not in r]
    if not models:
        return None
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "compare_ort.py"), "--nnport", nnport, "--models", *models,
           "--threads", "1", "--rounds", str(args.rounds), "--json", os.path.join(work, "compare_ort.json")]
    if args.quick:
        cmd.append("--quick")
    log("latency: " + " ".join(shlex.quote(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c) for c in cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["compare_ort failed"])[-1], "cmd": cmd}
    with open(os.path.join(work, "compare_ort.json")) as f:
        data = json.load(f)
    by_file = {os.path.abspath(r["file"]): r for r in data["results"] if "file" in r}
    errors = [r for r in data["results"] if "error" in r]
    return {"by_file": by_file, "errors": errors, "markdown": p.stdout, "cmd": cmd}


def median(v):
    return float(np.median(v))


# --- report --------------------------------------------------------------------------------------------------------


def rel(path):
    return os.path.relpath(path, ROOT) if os.path.isabs(path) and path.startswith(ROOT) else path


def verdict(ok):
    return "met" if ok else "**missed**"


def report(digits, zoo, lat, args, elapsed, command):
    version = run([args.nnport, "--version"]).strip()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    lines = ["# Compression: size, accuracy and latency", "",
             "Generated by `scripts/compression_report.py` in one run; do not edit by hand, rerun it.", "",
             f"- Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average at the end {' / '.join(load)} "
             "(a shared machine: latencies carry that noise; compare_ort interleaves the runtimes to keep drift "
             "out of the ratios).",
             f"- nnport {version}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {elapsed / 60:.1f} min.",
             f"- Command: `{command}`", ""]
    targets = []

    # Digits
    meta = digits["meta"]
    lines += ["## Trained model: digits CNN", "",
              f"scikit-learn's handwritten digits (8x8), seeded split {meta['train']} train / {meta['test']} test, "
              "conv-bn-relu x2 + max-pool + linear trained by `scripts/gen_digits.py` (torch fp32 test accuracy "
              f"{meta['torch_accuracy']:.2f}%). int8-static calibrates on {meta['calibration']} training samples. "
              "Top-1 on the test set as run by `nnport run`; agreement = same prediction as nnport fp32; logit SQNR = "
              "of the test-set logits against nnport fp32's (one test sample is 0.25 points).", "",
              "| variant | file bytes | x fp32 | top-1 % | drop (points) | agreement with fp32 % | logit SQNR dB |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    base = next((r for r in digits["rows"] if r["variant"] == "fp32" and "error" not in r), None)
    for r in digits["rows"]:
        if "error" in r:
            lines.append(f"| {r['variant']} | | | | | | error: {r['error'].replace('|', '/')} |")
            continue
        ratio = r["bytes"] / base["bytes"] if base else float("nan")
        drop = base["top1"] - r["top1"] if base else float("nan")
        lines.append(f"| {r['variant']} | {r['bytes']} | {ratio:.3f} | {r['top1']:.2f} | {drop:+.2f} | "
                     f"{r['agree']:.2f} | {'-' if r['sqnr'] > 290 else format(r['sqnr'], '.1f')} |")
    if not digits["prune"]:
        lines.append("| pruned 30/50/70% | | | | | | not available: this nnport has no `prune` command |")
    static = [r for r in digits["rows"] if r["variant"].startswith("int8-static") and "error" not in r]
    if base and static:
        best = max(static, key=lambda r: r["top1"])
        drop = base["top1"] - best["top1"]
        by_sqnr = max(static, key=lambda r: r["sqnr"])
        targets.append(("digits top-1 drop, int8-static, best calibration", f"<= {DIGITS_DROP_MAX} points",
                        f"{drop:+.2f} ({best['variant'].split()[-1]}; {by_sqnr['variant'].split()[-1]}, the highest "
                        f"logit SQNR: {base['top1'] - by_sqnr['top1']:+.2f})", drop <= DIGITS_DROP_MAX))
    if base and static:
        best_sqnr = max(static, key=lambda r: r["sqnr"])
        lines += ["", f"Highest logit SQNR among the int8-static methods: {best_sqnr['variant'].split()[-1]} "
                  f"({best_sqnr['sqnr']:.1f} dB, top-1 drop {base['top1'] - best_sqnr['top1']:+.2f} points). "
                  "Differences of one or two test samples between methods are within the noise of a 400-sample "
                  "test set; a method with a much lower logit SQNR that scores higher is lucky, not better."]
    if digits["prune"]:
        lines += ["", "Unstructured pruning zeroes weights in place (per layer, or with one global threshold): the "
                  "file keeps its dense size. Structured pruning removes conv output channels (and the consumers' "
                  "input channels; refit = consumers refitted by least squares on the calibration samples). No "
                  "fine-tuning after pruning."]
    lines += ["", f"The digits model is tiny ({digits['params']} parameters): its file size ratios are dominated by "
              "graph overhead (the QDQ nodes and their scales) and are no guide to large models; see the zoo below.",
              ""]

    # Zoo
    lines += ["## torchvision models (random weights): size and output agreement", "",
              f"fp16 and int8-static (`--calibration {args.zoo_calibration}`, {args.calib_samples} synthetic "
              f"standard-normal samples) written by `nnport quantize`; compared with nnport fp32 on "
              f"{args.eval_samples} other synthetic samples (first output, all samples pooled). Random weights "
              "give no accuracy to measure; top-1 agreement is the share of samples with the same arg-max.", "",
              "| model | fp32 MB | fp16 x fp32 | int8 x fp32 | fp16 cosine | fp16 SQNR dB | fp16 top-1 agree % | "
              "int8 cosine | int8 SQNR dB | int8 top-1 agree % |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in zoo:
        if "error" in r:
            lines.append(f"| {r['model']} | | | | | | | | | error: {r['error'].replace('|', '/')} |")
            continue
        f16, i8 = r["fp16_bytes"] / r["bytes"], r["int8_bytes"] / r["bytes"]
        lines.append(f"| {r['model']} | {r['bytes'] / 1e6:.1f} | {f16:.3f} | {i8:.3f} | {r['fp16_cos']:.6f} | "
                     f"{r['fp16_sqnr']:.1f} | {r['fp16_top1']:.0f} | {r['int8_cos']:.6f} | {r['int8_sqnr']:.1f} | "
                     f"{r['int8_top1']:.0f} |")
        targets.append((f"{r['model']} int8-static file size", f"<= {INT8_SIZE_MAX} x fp32", f"{i8:.3f}",
                        i8 <= INT8_SIZE_MAX))
        targets.append((f"{r['model']} fp16 file size", f"<= {FP16_SIZE_MAX} x fp32", f"{f16:.3f}",
                        f16 <= FP16_SIZE_MAX))
    lines.append("")

    # Latency
    lines += ["## Latency, 1 thread", ""]
    if lat is None or "error" in lat:
        lines += [f"Not measured: {lat['error'] if lat else 'no zoo model quantized'}.", ""]
    else:
        cmd = " ".join(shlex.quote(rel(c)) for c in lat["cmd"])
        lines += [f"Measured by `{cmd}` (the int8 files are the QDQ models of the table above; the same file runs "
                  "in nnport and in ONNX Runtime). Median latency in ms of all runs of the interleaved rounds.", "",
                  "| model | nnport fp32 | ORT fp32 | nnport int8 | ORT int8 (same QDQ file) | "
                  "nnport int8 / nnport fp32 | nnport int8 / ORT int8 | nnport int8 vs ORT max abs err |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in zoo:
            if "error" in r:
                continue
            f, q = lat["by_file"].get(os.path.abspath(r["fp32"])), lat["by_file"].get(os.path.abspath(r["int8"]))
            if not f or not q or "nnport_ms" not in f or "nnport_ms" not in q:
                lines.append(f"| {r['model']} | | | | | | | benchmark failed (see below) |")
                continue
            nf, of, nq, oq = (median(x) for x in (f["nnport_ms"], f["ort_ms"], q["nnport_ms"], q["ort_ms"]))
            lines.append(f"| {r['model']} | {nf:.2f} | {of:.2f} | {nq:.2f} | {oq:.2f} | {nq / nf:.2f} | "
                         f"{nq / oq:.2f} | {q['max_abs']:.2g} |")
            if r["model"] in LATENCY_TARGET_MODELS:
                targets.append((f"{r['model']} int8 latency, 1 thread", f"<= {INT8_LATENCY_MAX} x nnport fp32",
                                f"{nq / nf:.2f}", nq / nf <= INT8_LATENCY_MAX))
                targets.append((f"{r['model']} int8 latency vs ONNX Runtime (same QDQ file)", "< 1 x ORT",
                                f"{nq / oq:.2f}", nq < oq))
        for e in lat["errors"]:
            lines.append(f"\nBenchmark error on {e['model']}: {e['error']}")
        lines += ["", "<details><summary>compare_ort.py report</summary>", "", lat["markdown"].strip(), "",
                  "</details>", ""]

    # Targets first: insert after the header block.
    head = ["## Targets", "", "| target | goal | measured | |", "|---|---|---:|---|"]
    head += [f"| {t} | {g} | {m} | {verdict(ok)} |" for t, g, m, ok in targets]
    missed = [t for t, _, _, ok in targets if not ok]
    head += ["", (f"{len(missed)} of {len(targets)} targets missed: " + "; ".join(missed) + ".") if missed
             else f"All targets met ({len(targets)}).", ""]
    at = lines.index("## Trained model: digits CNN")
    return "\n".join(lines[:at] + head + lines[at:]).rstrip() + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nnport", default=os.path.join(ROOT, "build", "nnport"), help="nnport binary")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "COMPRESSION.md"), help="markdown file to write")
    ap.add_argument("--work", default=os.path.join(ROOT, "out", "compression"), help="intermediate models and data")
    ap.add_argument("--calib-samples", type=int, default=8, help="synthetic calibration samples of the zoo models")
    ap.add_argument("--eval-samples", type=int, default=16, help="synthetic evaluation samples of the zoo models")
    ap.add_argument("--zoo-calibration", default="minmax", choices=METHODS, help="zoo int8-static range method")
    ap.add_argument("--rounds", type=int, default=3, help="compare_ort.py timed rounds per runtime")
    ap.add_argument("--quick", action="store_true", help="compare_ort.py --quick and 4 evaluation samples")
    args = ap.parse_args()
    if args.quick:
        args.eval_samples = min(args.eval_samples, 4)
    args.nnport = os.path.abspath(args.nnport)
    if not os.access(args.nnport, os.X_OK):
        sys.exit(f"compression_report: {args.nnport} is not an executable (build it, or pass --nnport)")
    argv = ["/usr/bin/python3", "scripts/compression_report.py"] + sys.argv[1:]
    command = " ".join(shlex.quote(rel(a)) for a in argv)
    os.makedirs(args.work, exist_ok=True)
    started = time.time()
    digits = digits_section(args.nnport, args.work)
    zoo = zoo_section(args.nnport, args.work, args)
    lat = latency_section(args.nnport, args.work, zoo, args)
    text = report(digits, zoo, lat, args, time.time() - started, command)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"wrote {args.out} ({(time.time() - started) / 60:.1f} min)")


if __name__ == "__main__":
    main()
