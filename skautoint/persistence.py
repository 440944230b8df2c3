"""Save and load fitted models with an integrity check: clear errors for damaged files.

``joblib.dump``/``joblib.load`` and pickle work on every skautoint estimator. These two
functions add what they lack: a header with the skautoint version and a SHA-256 of the payload,
checked before anything is unpickled, so that a truncated or corrupted file fails with a message
that says so, and an atomic write, so that a crash during ``save`` never destroys the file that
was there before. Like pickle, loading runs code from the file: load only files you trust. For
files from elsewhere, save with ``skops.io.dump`` and load with
``skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)``, which refuses any other type.
"""

import hashlib
import json
import os
import pickle
import struct
import tempfile
import zlib
from pathlib import Path

import joblib

from ._version import __version__

__all__ = ["SKOPS_TRUSTED_TYPES", "load", "save"]

#: The skautoint types (and scikit-learn types skops does not trust by default) a skops
#: file of a fitted model holds, for
#: ``skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)``. The network's weights are saved as
#: NumPy arrays and the torch module is rebuilt on load, so no torch object is in the file.
SKOPS_TRUSTED_TYPES = [
    "skautoint._estimators.AutoIntClassifier",
    "skautoint._estimators.AutoIntRegressor",
    "skautoint._fields._categorical.CategoricalFieldEncoder",
    "skautoint._fields._kinds.FieldSelector",
    "skautoint._fields._multivalued.MultiValuedFieldEncoder",
    "skautoint._fields._numeric.FieldBucketizer",
    "skautoint._fields._numeric.FieldScaler",
    "skautoint._fields._numeric.PiecewiseLinearEncoder",
    "skautoint._fields._spec.FieldSpec",
    "skautoint._fields._target.TargetStatisticEncoder",
    "skautoint._fields._transformer.FieldTransformer",
    "skautoint._fields._transformer._FieldColumnTransformer",
    # where skautoint 0.1.0 kept the field classes (skops files it wrote name them so)
    *(f"skautoint._fields.{name}" for name in (
        "CategoricalFieldEncoder", "FieldBucketizer", "FieldScaler", "FieldSelector",
        "FieldSpec", "FieldTransformer")),
    # the folds a target statistic was cross-fitted on (kept in its TargetEncoder's ``cv``)
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    *(f"skautoint._losses.{name}" for name in (
        "AbsoluteError", "BinaryLogLoss", "GammaDeviance", "HuberLoss", "MultinomialLogLoss",
        "PinballLoss", "PoissonDeviance", "SquaredError")),
]

MAGIC = b"SKAUTOINT-MODEL\n"
FILE_FORMAT = 1
_CHUNK = 1 << 20


def save(model, path, *, compress=0):
    """Write a fitted model (estimator, Pipeline, search...) to ``path``.

    Parameters
    ----------
    model : object
        Anything joblib can pickle, typically a fitted skautoint estimator or a Pipeline.
    path : str or path-like
        Destination file; replaced atomically, so an interrupted save leaves it untouched.
    compress : int, default=0
        joblib compression level (0 to 9).

    Returns
    -------
    path : pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skautoint import persistence
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scaler.skautoint"
    >>> scaler = StandardScaler().fit([[0.0], [2.0]])
    >>> persistence.load(persistence.save(scaler, path)).mean_.tolist()
    [1.0]
    """
    path = Path(path)
    fd, payload_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    payload = Path(payload_name)
    try:
        joblib.dump(model, payload, compress=compress)
        digest, n_bytes = _sha256(payload)
        header = {"format": FILE_FORMAT, "skautoint_version": __version__,
                  "sha256": digest, "n_bytes": n_bytes}
        final = payload.with_suffix(".final")
        with open(final, "wb") as out, open(payload, "rb") as source:
            out.write(MAGIC + json.dumps(header).encode() + b"\n")
            while chunk := source.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(final, path)
    finally:
        for leftover in (payload, payload.with_suffix(".final")):
            leftover.unlink(missing_ok=True)
    return path


def load(path):
    """Read a model written by :func:`save`, after checking its integrity.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    model : object
        The saved model.

    Raises
    ------
    ValueError
        When the file is not a skautoint model file, was written in a newer file format, is
        truncated, or its contents do not match their checksum.
    """
    path = Path(path)
    with open(path, "rb") as file:
        header = _read_header(file, path)
        digest = hashlib.sha256()
        n_bytes = 0
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            n_bytes += len(chunk)
        if n_bytes < header["n_bytes"]:
            raise ValueError(
                f"{path} is truncated: its model data holds {n_bytes} of {header['n_bytes']} "
                "bytes. Copy or save the model again."
            )
        if n_bytes != header["n_bytes"] or digest.hexdigest() != header["sha256"]:
            raise ValueError(
                f"{path} is corrupted: its model data does not match the checksum written by "
                "save. Copy or save the model again."
            )
        if n_bytes == 0:
            raise ValueError(f"{path} holds no model data after its header.")
        file.seek(-n_bytes, os.SEEK_END)
        try:
            return joblib.load(file)
        except (pickle.UnpicklingError, EOFError, struct.error, KeyError, IndexError,
                zlib.error) as exc:  # what unpickling bytes that are no pickle raises
            raise ValueError(f"{path} passes its checksum but its model data is not "
                             f"readable ({type(exc).__name__}: {exc}).") from exc


#: The header's fields, each with a check of its value and what the check expects.
_HEADER_FIELDS = {
    "format": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "skautoint_version": (lambda v: isinstance(v, str), "a string"),
    "sha256": (lambda v: isinstance(v, str) and len(v) == 64
               and all(c in "0123456789abcdef" for c in v), "64 hexadecimal digits"),
    "n_bytes": (lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _read_header(file, path):
    if file.read(len(MAGIC)) != MAGIC:
        raise ValueError(
            f"{path} is not a model file written by skautoint.persistence.save (its first bytes "
            "differ); a file written by joblib.dump is read with joblib.load."
        )
    try:
        header = json.loads(file.readline())
    except ValueError as exc:  # also a line that is not UTF-8
        raise ValueError(f"{path} has a damaged header: it is not JSON ({exc}). Copy or save "
                         "the model again.") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path} has a damaged header: expected a JSON object, got "
                         f"{type(header).__name__}. Copy or save the model again.")
    if _is_int(header.get("format")) and header["format"] > FILE_FORMAT:
        raise ValueError(
            f"{path} was written by skautoint {header.get('skautoint_version')} in file format "
            f"{header['format']}; skautoint {__version__} reads format {FILE_FORMAT}. Upgrade "
            "skautoint to load it."
        )
    for field, (valid, expected) in _HEADER_FIELDS.items():
        if field not in header:
            raise ValueError(f"{path} has a damaged header: the field {field!r} is missing. "
                             "Copy or save the model again.")
        if not valid(header[field]):
            raise ValueError(f"{path} has a damaged header: the field {field!r} should be "
                             f"{expected}, got {header[field]!r}. Copy or save the model "
                             "again.")
    return header


def _sha256(path):
    digest, n_bytes = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            n_bytes += len(chunk)
    return digest.hexdigest(), n_bytes
