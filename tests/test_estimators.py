"""AutoIntClassifier on real data: quality, labels, pipelines, search, persistence, determinism."""

import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skautoint import AutoIntClassifier, make_field_transformer

QUICK = dict(max_epochs=3, random_state=0)


def test_adult_default_reaches_090_auc_and_beats_logistic_regression(adult):
    X, y, X_test, y_test = adult
    clf = AutoIntClassifier(random_state=0).fit(X, y)
    auc = roc_auc_score(y_test == ">50K", clf.predict_proba(X_test)[:, 1])
    logistic = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
            (StandardScaler(), make_column_selector(dtype_include="number")),
        ),
        LogisticRegression(max_iter=2000),
    ).fit(X, y)
    baseline = roc_auc_score(y_test == ">50K", logistic.predict_proba(X_test)[:, 1])
    assert auc >= 0.90
    assert auc > baseline
    # Early stopping ran and kept the best epoch.
    assert 1 <= clf.best_iteration_ <= clf.n_iter_ < clf.max_epochs
    losses = [record["valid_loss"] for record in clf.history_]
    best, expected = np.inf, 0  # the best epoch: the last that gained more than tol
    for epoch, loss in enumerate(losses, 1):
        if loss < best - clf.tol:
            best, expected = loss, epoch
    assert clf.best_iteration_ == expected


def test_criteo_beats_the_positive_rate_baseline(criteo):
    X, y = criteo
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    clf = AutoIntClassifier(random_state=0).fit(X_train, y_train)
    proba = clf.predict_proba(X_test)[:, 1]
    baseline = log_loss(y_test, np.full(len(y_test), y_train.mean()))
    assert log_loss(y_test, proba) < baseline - 0.01
    assert roc_auc_score(y_test, proba) > 0.65


def test_multiclass_movielens_ratings(movielens):
    X, y = movielens
    X, y = X.iloc[:20000], y.iloc[:20000]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    clf = AutoIntClassifier(max_epochs=5, random_state=0).fit(X_train, y_train)
    assert clf.classes_.tolist() == [1, 2, 3, 4, 5]
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    prior = np.bincount(y_train, minlength=6)[1:] / len(y_train)
    assert log_loss(y_test, proba, labels=clf.classes_) < log_loss(
        y_test, np.tile(prior, (len(y_test), 1)), labels=clf.classes_
    ) - 0.02
    assert clf.decision_function(X_test).shape == (len(X_test), 5)


@pytest.mark.parametrize("kind", ["str", "int", "bool"])
def test_any_label_type(adult_small, kind):
    X, y, X_test, y_test = adult_small
    labels = {"str": y, "int": (y == ">50K").astype(int) * 7 - 2, "bool": y == ">50K"}[kind]
    clf = AutoIntClassifier(**QUICK).fit(X, labels)
    assert clf.classes_.tolist() == sorted(set(labels.tolist()))
    predicted = clf.predict(X_test)
    assert set(predicted.tolist()) <= set(labels.tolist())
    positive = clf.predict_proba(X_test)[:, list(clf.classes_).index(labels[y == ">50K"].iloc[0])]
    assert roc_auc_score(y_test == ">50K", positive) > 0.85  # a constant model scores 0.5


def test_unseen_levels_and_missing_values_at_predict(adult_small):
    X, y, X_test, _ = adult_small
    clf = AutoIntClassifier(**QUICK).fit(X.dropna(), y[X.notna().all(axis=1)])
    odd = X_test.head(4).copy()
    odd.loc[odd.index[0], "occupation"] = "Astronaut"      # level never seen
    odd.loc[odd.index[1], "workclass"] = np.nan            # NaN where fit had none
    odd.loc[odd.index[2], "age"] = np.nan                  # missing number
    odd.loc[odd.index[3], "capital_gain"] = 10**9          # far beyond the training range
    proba = clf.predict_proba(odd)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_same_seed_same_predictions_and_global_state_untouched(adult_small):
    X, y, X_test, _ = adult_small
    torch.manual_seed(123)
    rng_before = torch.random.get_rng_state()
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    first = AutoIntClassifier(dropout=0.1, **QUICK).fit(X, y).predict_proba(X_test)
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert torch.get_num_threads() == threads and torch.get_default_dtype() == dtype
    second = AutoIntClassifier(dropout=0.1, **QUICK).fit(X, y).predict_proba(X_test)
    np.testing.assert_array_equal(first, second)
    other = AutoIntClassifier(dropout=0.1, max_epochs=3, random_state=1).fit(X, y)
    assert not np.array_equal(first, other.predict_proba(X_test))


@pytest.mark.parametrize("continuous", ["bucketize", "embed"])
def test_pipeline_after_the_field_transformer_equals_the_raw_fit(adult_small, continuous):
    X, y, X_test, _ = adult_small
    raw = AutoIntClassifier(continuous=continuous, **QUICK).fit(X, y)
    pipe = make_pipeline(make_field_transformer(continuous=continuous),
                         AutoIntClassifier(continuous=continuous, **QUICK)).fit(X, y)
    # The classifier reads coded fields off the category dtype and does not encode them again.
    assert pipe[-1].field_spec_ == raw.field_spec_
    np.testing.assert_array_equal(pipe.predict_proba(X_test), raw.predict_proba(X_test))


def test_grid_search_over_preprocessing_and_network_then_joblib_in_a_fresh_process(
        adult_small, tmp_path):
    X, y, X_test, _ = adult_small
    pipe = make_pipeline(make_field_transformer(), AutoIntClassifier(max_epochs=2,
                                                                     random_state=0))
    grid = {"fieldtransformer__n_bins": [8, 32], "autointclassifier__n_layers": [1, 2]}
    search = GridSearchCV(pipe, grid, cv=2, scoring="roc_auc", n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    model = search.best_estimator_
    path, expected_path = tmp_path / "model.joblib", tmp_path / "expected.npy"
    joblib.dump(model, path)
    X_test.to_pickle(tmp_path / "X.pkl")
    np.save(expected_path, model.predict_proba(X_test))
    script = textwrap.dedent(f"""
        import joblib, numpy as np, pandas as pd
        model = joblib.load({str(path)!r})
        got = model.predict_proba(pd.read_pickle({str(tmp_path / "X.pkl")!r}))
        assert np.array_equal(got, np.load({str(expected_path)!r})), "predictions differ"
        print("same")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same"


def test_pickle_stores_cpu_arrays_not_torch_objects(adult_small):
    X, y, X_test, _ = adult_small
    clf = AutoIntClassifier(**QUICK).fit(X, y)
    state = clf.__getstate__()
    assert "module_" not in state
    assert all(isinstance(v, np.ndarray) for v in state["module_state_"].values())
    assert "module_" in vars(clf)  # pickling leaves the live estimator intact
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))


def test_validation_set_and_early_stopping_restore_the_best_epoch(adult_small):
    X, y, X_test, y_test = adult_small
    clf = AutoIntClassifier(max_epochs=8, n_iter_no_change=2, random_state=0)
    clf.fit(X, y, X_val=X_test, y_val=y_test)
    history = pd.DataFrame(clf.history_)
    assert list(history["epoch"]) == list(range(1, clf.n_iter_ + 1))
    assert {"train_loss", "valid_loss", "valid_score", "seconds", "best"} <= set(history)
    best = history.loc[history["valid_loss"].idxmin()]
    assert clf.best_iteration_ == best["epoch"]
    restored_loss = log_loss(y_test, clf.predict_proba(X_test), labels=clf.classes_)
    assert restored_loss == pytest.approx(best["valid_loss"], abs=1e-5)


def test_warm_start_continues_training(adult_small):
    X, y, _, _ = adult_small
    clf = AutoIntClassifier(max_epochs=2, early_stopping=False, warm_start=True, random_state=0)
    clf.fit(X, y)
    first_table = clf.module_.embedding.weight.detach().clone()
    clf.fit(X, y)
    assert clf.n_iter_ == 4 and [r["epoch"] for r in clf.history_] == [1, 2, 3, 4]
    assert not torch.equal(first_table, clf.module_.embedding.weight)
    cold = clone(clf).set_params(warm_start=False).fit(X, y)
    assert cold.n_iter_ == 2


def test_class_weight_and_sample_weight_shift_predictions(adult_small):
    X, y, X_test, _ = adult_small
    plain = AutoIntClassifier(**QUICK).fit(X, y).predict_proba(X_test)[:, 1].mean()
    balanced = AutoIntClassifier(class_weight="balanced", **QUICK).fit(X, y)
    # about 3x the positives' weight moves the mean from 0.22 by about +0.1 (weights ignored: 0)
    assert balanced.predict_proba(X_test)[:, 1].mean() > plain + 0.07
    weights = np.where(y == ">50K", 3.0, 1.0)
    weighted = AutoIntClassifier(**QUICK).fit(X, y, sample_weight=weights)
    assert weighted.predict_proba(X_test)[:, 1].mean() > plain + 0.05


@pytest.mark.parametrize(
    ("params", "name"),
    [({"n_heads": 0}, "n_heads"), ({"continuous": "log"}, "continuous"),
     ({"learning_rate": -1.0}, "learning_rate"), ({"device": "tpu"}, "device")],
)
def test_invalid_parameters_are_rejected_by_name(adult_small, params, name):
    X, y, _, _ = adult_small
    with pytest.raises(InvalidParameterError, match=name):
        AutoIntClassifier(**params).fit(X, y)


@pytest.mark.parametrize("params", [
    {"attention_scaling": True, "layer_norm": "after_activation"},
    {"linear_term": True},
    {"mlp_hidden_units": (32, 16), "dropout": 0.1},
    {"residual": "none"},
    {"output_projection": "per_field", "residual": "identity", "layer_norm": "after_residual",
     "activation": "none", "projection_bias": True, "attention_scaling": True, "dropout": 0.1,
     "field_bias": True, "linear_term": True},  # the transformer-style block
    {"output_projection": "flattened", "projection_bias": True},
], ids=["scaled-layernorm", "linear", "autoint-plus", "no-residual", "transformer", "flattened"])
def test_variants_train_and_rank_the_test_rows(adult_small, params):
    X, y, X_test, y_test = adult_small
    clf = AutoIntClassifier(**QUICK, **params).fit(X, y)
    auc = roc_auc_score(y_test == ">50K", clf.predict_proba(X_test)[:, 1])
    assert auc > 0.85, (params, auc)  # a constant model scores 0.5


def test_auto_batch_size_and_learning_rate_follow_the_training_rows(adult_small):
    X, y, _, _ = adult_small
    small = AutoIntClassifier(**QUICK).fit(X.iloc[:500], y.iloc[:500])
    large = AutoIntClassifier(**QUICK).fit(X, y)  # 2,700 rows train after the 10% split
    assert (small.batch_size_, small.learning_rate_) == (64, 2e-3)
    assert large.batch_size_ == 64 and large.learning_rate_ == 2e-3
    assert AutoIntClassifier(**QUICK, early_stopping=False).fit(X, y).batch_size_ == 64
    fixed = AutoIntClassifier(**QUICK, batch_size=100, learning_rate=0.01).fit(X, y)
    assert (fixed.batch_size_, fixed.learning_rate_) == (100, 0.01)


def test_embedding_weight_decay_shrinks_the_table_and_weight_decay_does_not(adult_small):
    X, y, _, _ = adult_small

    def table(**params):
        clf = AutoIntClassifier(**QUICK, **params).fit(X, y)
        return clf.module_.embedding.weight.detach()

    plain = table(embedding_weight_decay=0.0)
    decayed = table(embedding_weight_decay=0.1)
    dense_only = table(embedding_weight_decay=0.0, weight_decay=0.1)
    used = plain.norm(dim=1) > 0  # rows no training row uses start, and stay, at zero
    assert 0 < used.sum() < len(plain)
    assert (decayed[~used] == 0).all()
    ratio = decayed.norm(dim=1)[used] / plain.norm(dim=1)[used]
    # Nearly every row shrinks, most by half; a frequent level's row may be held up by its
    # data (with 2 layers, 1 of 157 rows grew by 7% in 3 epochs).
    assert (ratio < 1).float().mean() > 0.95 and ratio.median() < 0.5
    assert decayed.norm() < 0.5 * plain.norm()
    assert dense_only.norm() > plain.norm()
