"""partial_fit: training chunk by chunk with a field encoding fixed before the first chunk."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier, make_field_transformer

PARAMS = dict(batch_size=256, learning_rate=1e-3, random_state=0)


def _chunks(X, y, n_chunks):
    for rows in np.array_split(np.arange(len(y)), n_chunks):
        yield X.iloc[rows], y.iloc[rows]


def test_chunked_training_matches_fit_on_the_same_rows(adult):
    X, y, X_test, y_test = adult
    X, y = X.iloc[:12_000], y.iloc[:12_000]
    in_memory = AutoIntClassifier(**PARAMS, max_epochs=2, early_stopping=False).fit(X, y)
    # the encoding fitted on a 10% sample, as for data that does not fit in memory
    sample = X.sample(1_200, random_state=0)
    encoding = FrozenEstimator(make_field_transformer().fit(sample))
    chunked = AutoIntClassifier(**PARAMS, field_transformer=encoding)
    for _ in range(2):
        for X_chunk, y_chunk in _chunks(X, y, 6):
            chunked.partial_fit(X_chunk, y_chunk, classes=[">50K", "<=50K"])
    assert chunked.n_iter_ == 12 and [r["epoch"] for r in chunked.history_] == list(range(1, 13))
    # a copy of the fitted encoding: refitting the caller's transformer leaves the model be
    assert chunked.field_transformer_ is not encoding
    pd.testing.assert_frame_equal(chunked.field_transformer_.transform(X_test),
                                  encoding.transform(X_test))
    scores = [roc_auc_score(y_test, m.predict_proba(X_test)[:, 1]) for m in (in_memory, chunked)]
    assert scores[1] > 0.88
    assert abs(scores[0] - scores[1]) < 0.01


def test_first_chunk_fixes_the_encoding_and_later_levels_are_unknown(adult):
    X, y, _, _ = adult
    first = X.iloc[:500].assign(workclass="Private")  # one level only in the first chunk
    clf = AutoIntClassifier(**PARAMS).partial_fit(first, y.iloc[:500], classes=np.unique(y))
    table_rows = clf.field_spec_.table_rows
    clf.partial_fit(X.iloc[500:1000], y.iloc[500:1000])
    assert clf.field_spec_.table_rows == table_rows
    index, _ = clf._encode_for_inference(X.iloc[500:1000])
    column = clf.field_spec_.names.index("workclass")
    workclass = X.iloc[500:1000]["workclass"]
    private = (workclass == "Private").to_numpy()
    other = (workclass.notna() & ~private).to_numpy()
    # every level but "Private" was absent from the first chunk: they share the unknown code
    assert other.sum() > 50 and len(np.unique(index[other, column])) == 1
    assert index[private, column][0] != index[other, column][0]


def test_partial_fit_continues_fit_and_checks_its_inputs(adult):
    X, y, _, _ = adult
    X, y = X.iloc[:600], y.iloc[:600]
    with pytest.raises(ValueError, match="Pass `classes`"):
        AutoIntClassifier(**PARAMS).partial_fit(X, y)
    with pytest.raises(ValueError, match="at least 2 labels"):
        AutoIntClassifier(**PARAMS).partial_fit(X, y, classes=["<=50K"])
    with pytest.raises(ValueError, match="labels not in `classes`"):
        AutoIntClassifier(**PARAMS).partial_fit(X, y, classes=["<=50K", "other"])
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported"):
        AutoIntClassifier(**PARAMS, class_weight="balanced").partial_fit(X, y, classes=np.unique(y))
    clf = AutoIntClassifier(**PARAMS, max_epochs=2, early_stopping=False).fit(X, y)
    before = clf.module_.output.weight.detach().clone()
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 3 and not clf.module_.output.weight.detach().equal(before)
    with pytest.raises(ValueError, match="differ from those of the first call"):
        clf.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match="feature names should match"):
        clf.partial_fit(X.iloc[:, :3], y)


def test_a_fitted_field_transformer_survives_clone_only_when_frozen(adult):
    X, y, _, _ = adult
    fitted = make_field_transformer().fit(X.iloc[:300])
    assert clone(AutoIntClassifier(field_transformer=FrozenEstimator(fitted))) \
        .field_transformer.estimator is fitted
    # an unfitted transformer is fitted on the training rows (a clone: the given one stays)
    unfitted = make_field_transformer(n_bins=8)
    clf = AutoIntClassifier(**PARAMS, max_epochs=1, field_transformer=unfitted).fit(
        X.iloc[:300], y.iloc[:300])
    assert clf.field_transformer_ is not unfitted and not hasattr(unfitted, "column_transformer_")


def test_dask_ml_incremental_trains_one_partition_per_partial_fit_call(adult):
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, X_test, y_test = adult
    X, y = X.iloc[:8_000], y.iloc[:8_000]
    encoding = FrozenEstimator(make_field_transformer().fit(X.sample(2_000, random_state=0)))
    # one pass over 8,000 rows: small batches and a larger step, to train past the prior
    model = AutoIntClassifier(batch_size=64, learning_rate=3e-3, random_state=0,
                              field_transformer=encoding)
    # dask-ml's own scorers; its "roc_auc" and "neg_log_loss" fail with scikit-learn 1.9
    incremental = wrappers.Incremental(model, scoring="accuracy", shuffle_blocks=False)
    X_parts, y_parts = dd.from_pandas(X, npartitions=4), dd.from_pandas(y, npartitions=4)
    with dask.config.set(scheduler="synchronous"):  # this process's torch threads, as below
        incremental.fit(X_parts, y_parts, classes=["<=50K", ">50K"])

    by_hand = clone(model)
    for part in range(X_parts.npartitions):
        by_hand.partial_fit(X_parts.get_partition(part).compute(),
                            y_parts.get_partition(part).compute(), classes=["<=50K", ">50K"])
    trained = incremental.estimator_
    assert trained.n_iter_ == 4
    np.testing.assert_array_equal(trained.predict_proba(X_test), by_hand.predict_proba(X_test))
    with dask.config.set(scheduler="synchronous"):  # scored block by block
        assert incremental.score(dd.from_pandas(X_test, npartitions=2),
                                 dd.from_pandas(y_test, npartitions=2)) > 0.83
