"""
Saving, safe loading and ONNX serving
=====================================

Three ways to keep a fitted model: ``joblib`` (pickle; for files you trust),
``skops.io`` with only skautoint's own types trusted (for files from elsewhere), and an
ONNX graph of the network for onnxruntime, without PyTorch at serving time.
"""

import tempfile
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
import onnx
import onnxruntime
import skops.io

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult
from skautoint.persistence import SKOPS_TRUSTED_TYPES
from skautoint.serving import onnx_inputs, to_onnx

X, y = load_adult(return_X_y=True)
X_test, _ = load_adult(subset="test", return_X_y=True)
clf = AutoIntClassifier(max_epochs=5, random_state=0).fit(X.iloc[:5000], y.iloc[:5000])
expected = clf.predict_proba(X_test)
folder = Path(tempfile.mkdtemp())

# %%
# joblib: the whole estimator; the weights are stored as NumPy arrays
joblib.dump(clf, folder / "model.joblib")
print("joblib:", np.abs(joblib.load(folder / "model.joblib").predict_proba(X_test)
                        - expected).max())

# %%
# skops: refuses any type not trusted; a skautoint model holds only skautoint types,
# scikit-learn types and arrays
skops.io.dump(clf, folder / "model.skops")
print("types to trust:", skops.io.get_untrusted_types(file=folder / "model.skops"))
loaded = skops.io.load(folder / "model.skops", trusted=SKOPS_TRUSTED_TYPES)
print("skops:", np.abs(loaded.predict_proba(X_test) - expected).max())

# %%
# ONNX: the network and its output probabilities; the field encoding runs in Python
onnx.save(to_onnx(clf, X_test.iloc[:10]), folder / "model.onnx")
session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
proba = session.run(None, onnx_inputs(clf, X_test))[0]
print("onnxruntime:", np.abs(proba - expected).max())

# %%
# Every test row's probability from onnxruntime against the one from ``predict_proba``:
# they lie on the diagonal, and the differences are float32 rounding.
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
left.scatter(expected[:, 1], proba[:, 1], s=4, alpha=0.4)
left.plot([0, 1], [0, 1], color="black", linewidth=0.8)
left.set(xlabel="predict_proba", ylabel="onnxruntime", title="P(>50K) of the test rows")
right.hist(proba[:, 1] - expected[:, 1], bins=50)
right.set(xlabel="onnxruntime - predict_proba", ylabel="rows", title="differences")
