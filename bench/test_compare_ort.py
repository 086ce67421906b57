#!/usr/bin/python3
"""Tests of bench/compare_ort.py: the table arithmetic, round sizing, input discovery, and (with NNPORT_BIN set and
onnxruntime-node installed) one --quick end-to-end run on a small generated model.

    NNPORT_BIN=build/nnport /usr/bin/python3 bench/test_compare_ort.py
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_ort  # noqa: E402

NNPORT = os.environ.get("NNPORT_BIN", "")
HAVE_ORT = os.path.isdir(os.path.join(compare_ort.ORT_DIR, "node_modules", "onnxruntime-node"))


def row(**kw):
    base = {"model": "m", "threads": 1, "flops": 2_000_000_000, "flops_uncounted_nodes": 0, "ort_ms": [10.0, 12.0, 11.0],
            "nnport_ms": [40.0, 30.0, 50.0], "ort_cpu_ms": [5.0, 6.0, 5.5], "nnport_cpu_ms": [20.0, 15.0, 25.0],
            "max_abs": 1e-6, "max_rel": 2e-7}
    base.update(kw)
    return base


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


class TableTest(unittest.TestCase):
    def test_ratios_throughput_and_peak(self):
        out = compare_ort.table([row()], 1, 100.0)
        self.assertEqual(out[0], "### 1 thread (fp32 peak 100.0 GFLOP/s)")
        header, data = cells(out[2]), cells(out[4])
        self.assertEqual(len(header), len(data))
        c = dict(zip(header, data))
        self.assertEqual(c["GFLOPs"], "2")
        self.assertEqual(c["ORT ms min"], "10.00")
        self.assertEqual(c["ORT ms median"], "11.00")
        self.assertEqual(c["nnport ms min"], "30.00")
        self.assertEqual(c["nnport ms median"], "40.00")
        self.assertEqual(c["ratio (median)"], f"{40 / 11:.2f}")
        self.assertEqual(c["ratio (min)"], "3.00")
        self.assertEqual(c["ratio (CPU time)"], f"{20 / 5.5:.2f}")
        self.assertEqual(c["CPU share ORT / nnport"], f"{100 * 16.5 / 33:.0f}% / {100 * 60 / 120:.0f}%")
        self.assertEqual(c["nnport GFLOP/s"], "50")  # 2 GFLOP in 40 ms
        self.assertEqual(c["nnport % of peak"], "50.00%")
        self.assertEqual(c["max abs err"], "1e-06")

    def test_peak_scales_with_threads_and_uncounted_flops_are_marked(self):
        out = compare_ort.table([row(threads=2, flops_uncounted_nodes=3)], 2, 100.0)
        self.assertIn("(fp32 peak 200.0 GFLOP/s)", out[0])
        c = dict(zip(cells(out[2]), cells(out[4])))
        self.assertEqual(c["GFLOPs"], "2*")
        self.assertEqual(c["nnport % of peak"], "25.00%")

    def test_failed_model_keeps_the_column_count(self):
        out = compare_ort.table([{"model": "bad", "threads": 1, "error": "boom"}], 1, 100.0)
        self.assertEqual(len(cells(out[4])), len(cells(out[2])))
        self.assertIn("error: boom", out[4])


class SizingTest(unittest.TestCase):
    def test_iters_for(self):
        self.assertEqual(compare_ort.iters_for(100.0, 2.0), 20)
        self.assertEqual(compare_ort.iters_for(5000.0, 2.0), 1)
        self.assertEqual(compare_ort.iters_for(0.01, 2.0), 50)


class InputsTest(unittest.TestCase):
    def test_zoo_models_use_their_manifest_inputs(self):
        zoo_model = os.path.join(compare_ort.ZOO, "resnet18_op17.onnx")
        if not os.path.exists(os.path.join(compare_ort.ZOO, "manifest.json")):
            self.skipTest("the zoo is not generated")
        self.assertEqual(compare_ort.model_inputs(zoo_model, "unused", "/nonexistent"),
                         [("input", os.path.join(compare_ort.ZOO, "resnet18.input.npy"))])


def relu_model(path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


@unittest.skipUnless(NNPORT and HAVE_ORT, "needs NNPORT_BIN and onnxruntime-node (tools/ort)")
class EndToEndTest(unittest.TestCase):
    def test_quick_run_prints_one_row_per_model_and_thread_count(self):
        with tempfile.TemporaryDirectory() as tmp:
            model = os.path.join(tmp, "relu.onnx")
            relu_model(model)
            out_json = os.path.join(tmp, "r.json")
            p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "compare_ort.py"), "--nnport",
                                NNPORT, "--models", model, "--threads", "1,2", "--quick", "--json", out_json],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = [line for line in p.stdout.splitlines() if line.startswith("| relu |")]
            self.assertEqual(len(rows), 2, p.stdout)
            with open(out_json) as f:
                results = json.load(f)["results"]
            self.assertEqual([r["threads"] for r in results], [1, 2])
            for r in results:
                self.assertEqual(r["max_abs"], 0.0)  # same random input, Relu is exact
                self.assertEqual(r["flops"], 8)  # N bound to 1 by the generated input
                self.assertGreater(statistics.median(r["ort_ms"]), 0.0)
                self.assertGreater(len(r["nnport_ms"]), 1)


if __name__ == "__main__":
    unittest.main()
