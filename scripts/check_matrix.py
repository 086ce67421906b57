#!/usr/bin/python3
"""Runs `nnport check` for every zoo model (models/zoo/*_op17.onnx) against every target profile and prints a
markdown matrix of verdicts with issue counts per scenario (docs/TARGETS.md embeds its output).

Usage: scripts/check_matrix.py --nnport build/nnport [--zoo models/zoo] [--targets-dir targets]
"""
import argparse
import glob
import json
import os
import subprocess
import sys

SHORT = {
    "runs_as_is": "as is",
    "convertible_exactly": "exact",
    "convertible_approximately": "approx",
    "needs_custom_layers": "custom",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nnport", required=True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--zoo", default=os.path.join(root, "models", "zoo"))
    ap.add_argument("--targets-dir", default=os.path.join(root, "targets"))
    a = ap.parse_args()
    listing = subprocess.run([a.nnport, "targets", "--json", "--targets-dir", a.targets_dir], capture_output=True,
                             text=True, check=True)
    targets = [t["name"] for t in json.loads(listing.stdout)]
    models = sorted(glob.glob(os.path.join(a.zoo, "*_op17.onnx")))
    if not models:
        print(f"no *_op17.onnx models in {a.zoo}", file=sys.stderr)
        return 1
    print("Cell: verdict (as is / exact / approx / custom) followed by the number of issues resolved by each scenario "
          "①/②/③/④.\n")
    print("| model | " + " | ".join(targets) + " |")
    print("|---|" + "---|" * len(targets))
    totals = {t: {} for t in targets}
    for m in models:
        name = os.path.basename(m)[: -len("_op17.onnx")]
        cells = []
        for t in targets:
            r = subprocess.run([a.nnport, "check", m, "--target", t, "--json", "--targets-dir", a.targets_dir],
                               capture_output=True, text=True)
            if r.returncode not in (0, 3):
                cells.append("error")
                print(f"{name} on {t}: {r.stderr.strip()}", file=sys.stderr)
                continue
            j = json.loads(r.stdout)
            c = j["counts"]
            v = SHORT[j["verdict"]]
            totals[t][v] = totals[t].get(v, 0) + 1
            if v == "as is":
                cells.append(v)
            else:
                cells.append(f"{v} {c['exact_rewrite']}/{c['substitution']}/{c['post_processing']}/{c['custom_layer']}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nVerdict totals per target:\n")
    print("| target | as is | exact | approx | custom |")
    print("|---|---|---|---|---|")
    for t in targets:
        s = totals[t]
        print(f"| {t} | {s.get('as is', 0)} | {s.get('exact', 0)} | {s.get('approx', 0)} | {s.get('custom', 0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
