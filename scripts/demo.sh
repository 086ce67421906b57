#!/usr/bin/env bash
# Shows the main job on a generated model: export squeezenet1_1 from torchvision (random weights), then
# inspect it, run it on its input and compare with PyTorch, and benchmark it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/nnport
/usr/bin/python3 scripts/gen_zoo.py --out models/zoo --models squeezenet1_1 --opsets 17 >/dev/null
M=models/zoo/squeezenet1_1_op17.onnx
echo "== nnport inspect $M"
$BIN inspect "$M"
echo
echo "== nnport run $M -i models/zoo/squeezenet1_1.input.npy -o out/demo"
$BIN run "$M" -i models/zoo/squeezenet1_1.input.npy -o out/demo
cat out/demo/outputs.json
/usr/bin/python3 - <<'PY'
import json, numpy as np
out = json.load(open("out/demo/outputs.json"))["outputs"][0]
a = np.load("out/demo/" + out["file"]); b = np.load("models/zoo/squeezenet1_1.output0.npy")
print(f"max relative error vs PyTorch: {np.abs(a-b).max() / max(np.abs(b).max(), 1e-6):.2e}")
PY
echo
echo "== nnport bench $M --iters 10"
$BIN bench "$M" --warmup 2 --iters 10
