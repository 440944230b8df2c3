"""Shared fixtures: the real data sets in ../shared/data (never copied into the repository)."""

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skautoint.datasets import load_adult

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_datasets  # the benchmarks' readers of ../shared/data

# Saved models and the script that made them with an older skautoint (see data/README.md).
collect_ignore = ["data"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

CRITEO_COLUMNS = ["label"] + [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]
CRITEO_DTYPES = {
    "label": "int8",
    **{f"I{i}": "float64" for i in range(1, 14)},
    **{f"C{i}": "string" for i in range(1, 27)},
}


@pytest.fixture(scope="session")
def shared_data():
    """Path of ../shared/data; skip without it, but fail under CI where it must exist."""
    if not SHARED_DATA.is_dir():
        message = f"shared data sets not found at {SHARED_DATA}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: they must be present)")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def criteo(shared_data):
    """The first 10,000 rows of Criteo's Kaggle train.txt: 13 counts, 26 hashed categories."""
    frame = pd.read_csv(
        shared_data / "criteo" / "criteo_kaggle_train_head10000.txt", sep="\t", header=None,
        names=CRITEO_COLUMNS, dtype=CRITEO_DTYPES,
    )
    return frame.drop(columns="label"), frame["label"]


@pytest.fixture(scope="session")
def movielens(shared_data):
    """MovieLens 100K ratings joined with users and items; target: rating (1-5)."""
    folder = shared_data / "movielens" / "ml-100k"
    ratings = pd.read_csv(folder / "u.data", sep="\t",
                          names=["user_id", "item_id", "rating", "timestamp"])
    users = pd.read_csv(folder / "u.user", sep="|",
                        names=["user_id", "age", "gender", "occupation", "zip_code"])
    frame = ratings.merge(users, on="user_id")
    for column in ["user_id", "item_id", "gender", "occupation", "zip_code"]:
        frame[column] = frame[column].astype("string")
    return frame.drop(columns=["rating", "timestamp"]), frame["rating"]


@pytest.fixture(scope="session")
def titanic(shared_data):
    """Titanic as the quality benchmark reads and splits it (``benchmarks/bench_datasets.py``):
    X_train, y_train, X_test, y_test; categories as strings, target survived (0/1)."""
    return bench_datasets.titanic(shared_data)


@pytest.fixture(scope="session")
def adult():
    """Adult (shipped with the package): the official train and test splits."""
    X, y = load_adult(return_X_y=True)
    X_test, y_test = load_adult(subset="test", return_X_y=True)
    return X, y, X_test, y_test


@pytest.fixture(scope="session")
def adult_small(adult):
    """The first 3000 training and 1000 test rows of Adult."""
    X, y, X_test, y_test = adult
    return X.iloc[:3000], y.iloc[:3000], X_test.iloc[:1000], y_test.iloc[:1000]


@pytest.fixture
def assert_saved_forms_predict_alike(tmp_path):
    """Check that pickle and skops round trips give ``model``'s probabilities on ``X`` exactly,
    and its ONNX export (traced on 3 rows) to 1e-5."""

    def check(model, X):
        expected = model.predict_proba(X)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X),
                                      expected)
        skops_io = pytest.importorskip("skops.io")
        from skautoint.persistence import SKOPS_TRUSTED_TYPES

        skops_io.dump(model, tmp_path / "model.skops")
        loaded = skops_io.load(tmp_path / "model.skops", trusted=SKOPS_TRUSTED_TYPES)
        np.testing.assert_array_equal(loaded.predict_proba(X), expected)
        onnxruntime = pytest.importorskip("onnxruntime")
        from skautoint.serving import onnx_inputs, to_onnx

        session = onnxruntime.InferenceSession(to_onnx(model, X.head(3)).SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(session.run(None, onnx_inputs(model, X))[0], expected,
                                   atol=1e-5, rtol=0)

    return check
