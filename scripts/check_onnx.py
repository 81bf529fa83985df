"""Checks ONNX files written by `student-distill export-onnx` (or its library call) against the
Swift engine's own evaluation logits.

Usage: python check_onnx.py MANIFEST.json
The manifest lists {"name", "onnx", "input", "input_shape", "logits"}: raw little-endian float32
files of the input batch and of the logits the engine computed for it. For each model: the ONNX
checker (full check, with shape inference), then onnxruntime on the CPU; prints
"<name> <max absolute error> <max absolute logit>" per model, or "<name> FAILED <reason>".
Needs python3-onnx (Debian) and onnxruntime (PyPI): `make deps-onnx`.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime


def main():
    with open(sys.argv[1]) as f:
        manifest = json.load(f)
    for entry in manifest:
        name = entry["name"]
        try:
            model = onnx.load(entry["onnx"])
            onnx.checker.check_model(model, full_check=True)
            x = np.fromfile(entry["input"], dtype="<f4").reshape(entry["input_shape"])
            expected = np.fromfile(entry["logits"], dtype="<f4").reshape(x.shape[0], -1)
            session = onnxruntime.InferenceSession(entry["onnx"], providers=["CPUExecutionProvider"])
            (got,) = session.run(None, {session.get_inputs()[0].name: x})
            print(name, float(np.abs(got - expected).max()), float(np.abs(expected).max()))
        except Exception as e:  # one line per model, the test reports it
            print(name, "FAILED", str(e).replace("\n", " ")[:300])


if __name__ == "__main__":
    main()
