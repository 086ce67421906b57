#!/usr/bin/python3
"""Measures which ONNX ops ONNX Runtime (onnxruntime-node in tools/ort) can load: every non-expanded ONNX backend node
test model (libonnx-testdata) is opened with InferenceSession.create; an op counts as supported when at least one of
its test models loads. This is how targets/onnxruntime.json's op list was produced.

Usage: scripts/probe_ort_ops.py [--testdata /usr/share/libonnx-testdata/data/node]
Prints {"ok": [ops...], "failures": [{"test", "ops", "error"}...], "max_opset": N} as JSON.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE_JS = r"""
const ort = require(process.argv[2]);
const tests = JSON.parse(require('fs').readFileSync(process.argv[3], 'utf8'));
(async () => {
  const res = [];
  for (const t of tests) {
    try { await ort.InferenceSession.create(t.model); res.push({...t, ok: true}); }
    catch (e) { res.push({...t, ok: false, err: String(e.message || e).slice(0, 200)}); }
  }
  require('fs').writeFileSync(process.argv[4], JSON.stringify(res));
})();
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", default="/usr/share/libonnx-testdata/data/node")
    a = ap.parse_args()
    tests = []
    for d in sorted(os.listdir(a.testdata)):
        p = os.path.join(a.testdata, d, "model.onnx")
        if "_expanded" in d or not os.path.exists(p):
            continue
        m = onnx.load(p, load_external_data=False)
        ops = sorted({((n.domain or "ai.onnx"), n.op_type) for n in m.graph.node})
        opset = {(o.domain or "ai.onnx"): o.version for o in m.opset_import}.get("ai.onnx", 0)
        tests.append({"test": d, "model": p, "ops": ops, "opset": opset})
    with tempfile.TemporaryDirectory() as tmp:
        tj, rj, js = (os.path.join(tmp, f) for f in ("tests.json", "results.json", "probe.js"))
        with open(tj, "w") as f:
            json.dump(tests, f)
        with open(js, "w") as f:
            f.write(PROBE_JS)
        ort = os.path.join(ROOT, "tools", "ort", "node_modules", "onnxruntime-node")
        subprocess.run(["node", js, ort, tj, rj], check=True)
        with open(rj) as f:
            res = json.load(f)
    ok = sorted({op if dom == "ai.onnx" else f"{dom}:{op}" for t in res if t["ok"] for dom, op in t["ops"]})
    failures = [{"test": t["test"], "ops": t["ops"], "error": t["err"]} for t in res if not t["ok"]]
    json.dump({"ok": ok, "failures": failures, "max_opset": max(t["opset"] for t in res)}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
