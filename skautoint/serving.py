"""Export a fitted model's network to ONNX for serving without PyTorch.

The graph takes the two arrays the field encoding produces (``index`` as int64, ``value``:
float32, both of shape ``(n_rows, n_slots)``) and returns what ``predict_proba`` returns for
a classifier (the class probabilities in the order of ``classes_``) or what ``predict``
returns for a regressor: the network followed by the inverse link of the estimator's loss
object, the same code that serves ``predict``. The field encoding itself (hash lookups of
arbitrary Python levels, quantile buckets, robust scaling) stays in Python:
:func:`onnx_inputs` runs it, and with it any Pipeline steps before the estimator. Needs the
``onnx`` extra (``onnx``, ``onnxscript``; ``onnxruntime`` to run the graph).
"""

import copy
import logging
import warnings

import numpy as np
import torch

from ._estimators import AutoIntClassifier, final_estimator
from ._training import torch_context

__all__ = ["onnx_inputs", "output_name", "to_onnx"]

INPUT_NAMES = ("index", "value")

class _Predictions(torch.nn.Module):
    """The network followed by its loss's inverse link (probabilities, or predictions)."""

    def __init__(self, network, loss):
        super().__init__()
        self.network = network
        self.loss = loss

    def forward(self, index, value):
        return self.loss.inverse_link(self.network(index, value))


def output_name(model):
    """Name of the exported graph's output: ``"probabilities"`` for a classifier,
    ``"predictions"`` for a regressor."""
    estimator, _ = final_estimator(model, None)
    return "probabilities" if isinstance(estimator, AutoIntClassifier) else "predictions"


def onnx_inputs(model, X):
    """Encode ``X`` into the inputs of the graph :func:`to_onnx` exports.

    Parameters
    ----------
    model : AutoIntClassifier, AutoIntRegressor or Pipeline ending in one
        The fitted model that was exported.
    X : DataFrame or array-like of shape (n_samples, n_features)
        Rows as ``model.predict`` takes them.

    Returns
    -------
    inputs : dict of str to ndarray
        ``{"index": int64 array, "value": float32 array}``, both of shape
        ``(n_samples, n_slots)``, ready for ``onnxruntime.InferenceSession.run``.
    """
    estimator, X = final_estimator(model, X)
    index, value = estimator._encode_for_inference(X)
    return {"index": np.ascontiguousarray(index, dtype=np.int64),
            "value": np.ascontiguousarray(value, dtype=np.float32)}


def to_onnx(model, X_sample, *, opset_version=None):
    """Export the network of a fitted model, with its probabilities or predictions, to ONNX.

    Parameters
    ----------
    model : AutoIntClassifier, AutoIntRegressor or Pipeline ending in one
        The fitted model.
    X_sample : DataFrame or array-like
        A few rows as ``model.predict`` takes them, to trace the graph; the exported graph
        accepts any number of rows.
    opset_version : int or None, default=None
        ONNX opset; ``None`` takes the exporter's default.

    Returns
    -------
    model_proto : onnx.ModelProto
        Inputs ``index`` (int64) and ``value`` (float32) of shape ``(n_rows, n_slots)``;
        output (float32) ``probabilities`` of shape ``(n_rows, n_classes)`` for a
        classifier, ``predictions`` of shape ``(n_rows,)`` for a regressor
        (:func:`output_name`). Save it with
        ``onnx.save(model_proto, path)``; feed it with :func:`onnx_inputs`.

    Examples
    --------
    >>> import onnxruntime
    >>> from skautoint import AutoIntClassifier
    >>> from skautoint.datasets import load_adult
    >>> from skautoint.serving import onnx_inputs, to_onnx
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = AutoIntClassifier(max_epochs=1, random_state=0).fit(X[:500], y[:500])
    >>> proto = to_onnx(clf, X[:10])
    >>> session = onnxruntime.InferenceSession(proto.SerializeToString())
    >>> proba = session.run(None, onnx_inputs(clf, X[:5]))[0]
    >>> bool(abs(proba - clf.predict_proba(X[:5])).max() < 1e-5)
    True
    """
    estimator, _ = final_estimator(model, None)
    inputs = onnx_inputs(model, X_sample)
    # a CPU copy: the estimator's own network stays where it is, for threads predicting now
    network = _Predictions(copy.deepcopy(estimator.module_).to("cpu"), estimator._loss).eval()
    rows = torch.export.Dim("rows")
    args = tuple(torch.from_numpy(inputs[name]) for name in INPUT_NAMES)
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:  # the exporter logs about optional packages it lacks
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch_context(training=False, export=True):
            warnings.simplefilter("ignore")  # deprecation notes from inside the exporter
            program = torch.onnx.export(
                network, args, input_names=list(INPUT_NAMES), output_names=[output_name(model)],
                dynamic_shapes={"index": {0: rows}, "value": {0: rows}},
                opset_version=opset_version, dynamo=True, verbose=False,
            )
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    return program.model_proto
