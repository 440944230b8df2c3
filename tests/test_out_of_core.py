"""Out-of-core training from Parquet: chunks, the encoding sample, quality against fit."""

import numpy as np
import pandas as pd
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier
from skautoint.out_of_core import iter_parquet_chunks, partial_fit_parquet, sample_parquet

pytest.importorskip("pyarrow")
PARAMS = dict(batch_size=256, learning_rate=1e-3, random_state=0)


@pytest.fixture(scope="module")
def adult_parquet(adult, tmp_path_factory):
    """The first 16,000 Adult training rows in four Parquet files."""
    X, y, _, _ = adult
    frame = X.iloc[:16_000].assign(income=y.iloc[:16_000])
    folder = tmp_path_factory.mktemp("adult_parquet")
    for part, rows in enumerate(np.array_split(np.arange(len(frame)), 4)):
        frame.iloc[rows].to_parquet(folder / f"part-{part}.parquet")
    return folder, frame


def test_chunks_cover_every_row_once_in_file_order(adult_parquet):
    folder, frame = adult_parquet
    chunks = list(iter_parquet_chunks(folder, target="income", chunk_rows=3_000))
    assert all(len(X) <= 3_000 for X, _ in chunks) and len(chunks) >= 6
    X = pd.concat([X for X, _ in chunks], ignore_index=True)
    y = pd.concat([y for _, y in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(X, frame.drop(columns="income").reset_index(drop=True),
                                  check_dtype=False)
    assert y.tolist() == frame["income"].tolist()
    with pytest.raises(ValueError, match="target column 'label' is not in the Parquet data"):
        next(iter_parquet_chunks(folder, target="label"))


def test_sample_draws_distinct_rows(adult_parquet):
    folder, frame = adult_parquet
    X, y = sample_parquet(folder, 500, target="income", random_state=0)
    # the rows at 500 positions drawn without replacement, in file order, across the 4 files
    rows = np.sort(np.random.RandomState(0).choice(len(frame), size=500, replace=False))
    expected = frame.iloc[rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(X, expected.drop(columns="income"), check_dtype=False)
    assert y.tolist() == expected["income"].tolist()
    X_all, _ = sample_parquet(folder, 10**6, target="income", columns=["age"])
    assert list(X_all.columns) == ["age"] and len(X_all) == len(frame)


def test_parquet_training_matches_fit_in_memory(adult_parquet, adult):
    folder, frame = adult_parquet
    _, _, X_test, y_test = adult
    in_memory = AutoIntClassifier(**PARAMS, max_epochs=2, early_stopping=False).fit(
        frame.drop(columns="income"), frame["income"])
    chunked = partial_fit_parquet(AutoIntClassifier(**PARAMS), folder, target="income",
                                  classes=["<=50K", ">50K"], epochs=2, chunk_rows=4_000,
                                  sample_rows=2_000, random_state=0)
    assert isinstance(chunked.field_transformer, FrozenEstimator)
    assert chunked.n_iter_ == 8
    scores = [roc_auc_score(y_test, m.predict_proba(X_test)[:, 1]) for m in (in_memory, chunked)]
    assert scores[1] > 0.88 and abs(scores[0] - scores[1]) < 0.01


def test_parquet_training_of_a_regressor(adult_parquet, adult):
    from skautoint import AutoIntRegressor

    folder, _ = adult_parquet
    _, _, X_test, income = adult
    model = partial_fit_parquet(AutoIntRegressor(**PARAMS), folder, target="hours_per_week",
                                chunk_rows=4_000, sample_rows=2_000, random_state=0)
    y_test = X_test["hours_per_week"]
    X_test = X_test.drop(columns="hours_per_week").assign(income=income)  # income: a feature
    assert model.n_iter_ == 4 and model.score(X_test, y_test) > 0.1


def test_parquet_training_refuses_target_statistics(adult_parquet):
    folder, _ = adult_parquet
    with pytest.raises(ValueError, match="Out-of-core training cannot use target_statistics"):
        partial_fit_parquet(AutoIntClassifier(**PARAMS, target_statistics="auto"), folder,
                            target="income", classes=[">50K", "<=50K"], sample_rows=500)
