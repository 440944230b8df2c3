"""Property-based tests: generated DataFrames of random dtypes, missingness and cardinality.

Settings: ``derandomize=True`` (the same examples on every run, so CI is reproducible), no
deadline (a fit takes tens of milliseconds), 60 frames for the field transformer and 20 for the
classifier.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from skautoint import AutoIntClassifier, make_field_transformer
from skautoint._fields import FieldSpec, is_coded_dtype

PROPERTY_SETTINGS = dict(derandomize=True, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])
COLUMN_KINDS = ["float", "int", "Int64", "bool", "boolean", "text", "string", "category",
                "mixed", "constant"]
LEVELS = ["a", "b", "", "ünï", "x" * 50, "1"]


@st.composite
def columns(draw, n_rows):
    """One column of a random kind, cardinality and share of missing values."""
    kind = draw(st.sampled_from(COLUMN_KINDS))
    missing = draw(st.sampled_from([0.0, 0.2, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cardinality = draw(st.sampled_from([1, 2, 5, n_rows]))
    gone = rng.random(n_rows) < missing
    if kind == "float":
        values = rng.standard_cauchy(n_rows) * 10.0 ** draw(st.integers(-3, 6))
        return pd.Series(np.where(gone, np.nan, values))
    if kind in ("int", "Int64"):
        values = pd.array(rng.integers(-5, 5 + cardinality, n_rows), dtype="Int64")
        values[gone] = pd.NA
        return pd.Series(values if kind == "Int64" or not gone.any()
                         else values.astype("float64"))
    if kind in ("bool", "boolean"):
        values = pd.array(rng.random(n_rows) < 0.5, dtype="boolean")
        if kind == "boolean":
            values[gone] = pd.NA
        return pd.Series(values if kind == "boolean" else values.astype(bool))
    if kind == "constant":
        return pd.Series(np.full(n_rows, 7.0))
    levels = [LEVELS[i % len(LEVELS)] + str(i // len(LEVELS)) for i in range(cardinality)]
    values = np.array([levels[i] for i in rng.integers(0, cardinality, n_rows)], dtype=object)
    if kind == "mixed":  # ints among the strings
        values[rng.random(n_rows) < 0.3] = 1
    values[gone] = None
    series = pd.Series(values, dtype=object)
    if kind == "string":
        return series.astype("string")
    if kind == "category":
        return series.astype("category")
    return series


@st.composite
def frames(draw, min_rows=1, max_rows=40):
    n_rows = draw(st.integers(min_rows, max_rows))
    n_columns = draw(st.integers(1, 5))
    return pd.DataFrame({f"col{j}": draw(columns(n_rows)) for j in range(n_columns)})


def _fit_quietly(estimator, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high-cardinality warnings are expected here
        return estimator.fit(*args)


@settings(max_examples=60, **PROPERTY_SETTINGS)
@given(X=frames(), continuous=st.sampled_from(["embed", "bucketize"]),
       min_frequency=st.sampled_from([1, 3]))
def test_field_transformer_codes_are_valid_and_round_trips_are_exact(X, continuous,
                                                                     min_frequency):
    transformer = _fit_quietly(
        make_field_transformer(continuous=continuous, min_frequency=min_frequency), X
    )
    fields = transformer.transform(X)
    assert fields.shape == X.shape
    assert list(fields.columns) == list(X.columns)
    for name in fields.columns:
        column = fields[name]
        if is_coded_dtype(column.dtype):
            assert not column.isna().any()
            assert column.cat.codes.min() >= 0 and column.cat.codes.max() < len(
                column.cat.categories)
        else:
            assert column.dtype == np.float32
            present = column.dropna().to_numpy()
            assert np.isfinite(present).all() and (np.abs(present) <= 10.0).all()
    spec = FieldSpec.from_encoded(fields)
    index, value = spec.to_arrays(fields)
    assert index.min() >= 0 and index.max() < spec.table_rows
    assert np.isfinite(value).all()
    # Round trips: fit_transform == transform, idempotent on its own output, pickle.
    pd.testing.assert_frame_equal(transformer.fit_transform(X), fields)
    pd.testing.assert_frame_equal(make_field_transformer(continuous=continuous)
                                  .fit_transform(fields), fields)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(transformer)).transform(X), fields)


@settings(max_examples=20, **PROPERTY_SETTINGS)
@given(X=frames(min_rows=4), seed=st.integers(0, 2**16), n_classes=st.sampled_from([2, 3]))
def test_classifier_fits_and_predicts_probabilities_on_any_frame(X, seed, n_classes):
    y = np.random.default_rng(seed).integers(0, n_classes, len(X))
    assume(len(np.unique(y)) >= 2)
    clf = AutoIntClassifier(max_epochs=2, embedding_dim=4, attention_dim=4, n_layers=1,
                            random_state=seed)
    proba = _fit_quietly(clf, X, y).predict_proba(X)
    assert proba.shape == (len(X), len(np.unique(y)))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # The same rows give the same predictions alone as in the batch.
    np.testing.assert_allclose(clf.predict_proba(X.iloc[:1]), proba[:1], rtol=1e-5, atol=1e-7)
