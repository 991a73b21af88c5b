"""check_exports.py PREDICTIONS.csv MODEL.h5 TEST_IMAGES(.gz IDX or .h5) EXPORTS_DIR

The Python package's three forms of one model against `shardml predict`
on the same images: numpy (shardml.load), PyTorch (shardml.to_torch, the
TorchScript file and the state_dict file `python3 -m shardml export`
wrote) and the exported ONNX graph, evaluated by tests/python/onnx_eval.py.
Each must give the predicted class of every image and its probabilities
(scores for svm) within 1e-5 (relative above 1). Prints one line per check;
exit 1 if any fails."""

import csv
import gzip
import os
import sys

import numpy as np
import onnx
import torch

import onnx_eval
import shardml


def read_test_images(path):
    """The test images of an IDX image file (gzip or not) [N, H, W], or of a
    file `shardml convert` wrote (/test/images [N, H, W, C]); uint8."""
    if path.endswith(".h5"):
        import h5py

        with h5py.File(path, "r") as f:
            return np.array(f["test/images"], dtype=np.uint8)
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    n, h, w = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, np.uint8, n * h * w, 16).reshape(n, h, w).copy()


def main(csv_path, model_path, images_path, exports):
    rows = list(csv.reader(open(csv_path)))
    header, rows = rows[0], rows[1:]
    first = next(i for i, name in enumerate(header) if name.startswith(("prob_", "score_")))
    want = np.array([[float(v) for v in r[first:]] for r in rows])
    want_class = np.array([int(r[1]) for r in rows])
    images = read_test_images(images_path)
    model = shardml.load(model_path)
    failures = 0

    def check(what, got):
        nonlocal failures
        got = np.asarray(got, dtype=np.float64)
        ok = got.shape == want.shape
        diff = np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) if ok else float("inf")
        same = ok and np.array_equal(np.argmax(got, axis=1), want_class)
        ok = ok and diff <= 1e-5 and same
        print(f"{'ok  ' if ok else 'FAIL'} {model.kind} {what}: {got.shape[0]} images, max difference {diff:.2e}, "
              f"classes {'identical' if same else 'differ'}")
        failures += not ok

    check("numpy", model.outputs(images))
    to_outputs = (lambda s: torch.softmax(s, 1)) if model.loss == "softmax" else (lambda s: s)
    with torch.no_grad():
        x = torch.from_numpy(images)
        net = shardml.to_torch(model)
        check("PyTorch module", to_outputs(net(x)).numpy())
        check("TorchScript file", to_outputs(torch.jit.load(os.path.join(exports, "model.pt"))(x)).numpy())
        fresh = shardml.to_torch(model)
        for p in fresh.parameters():
            p.data.zero_()
        fresh.load_state_dict(torch.load(os.path.join(exports, "model.pth")), strict=True)
        check("state_dict file", to_outputs(fresh(x)).numpy())
    graph = onnx.load(os.path.join(exports, "model.onnx"))
    onnx.checker.check_model(graph, full_check=True)
    out = onnx_eval.run(graph, {"images": images.reshape(images.shape[0], *model.image_shape)})
    check("ONNX graph", out["probabilities" if model.loss == "softmax" else "scores"])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
