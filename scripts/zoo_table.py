#!/usr/bin/python3
"""Prints the docs/ZOO.md results table from a zoo test report (NNPORT_ZOO_REPORT=FILE nnport_zoo_tests)."""

import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: zoo_table.py REPORT.jsonl")
    rows = {}
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows[(r["model"], r["opset"])] = r  # the last run of a case wins
    print("| model | opset | nodes | max rel err | time (s) | pass |")
    print("|---|---:|---:|---:|---:|---|")
    for (model, opset), r in rows.items():
        err = r["max_rel_err"]
        ok = r["status"] == "pass"
        note = "yes" if ok else "no: " + r["status"].replace("|", "/")[:160]
        err_text = "-" if err is None else f"{err:.2e}"
        print(f"| {model} | {opset} | {r['nodes']} | {err_text} | {r['seconds']:.2f} | {note} |")


if __name__ == "__main__":
    main()
