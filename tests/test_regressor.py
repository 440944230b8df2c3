"""AutoIntRegressor: quality on real targets, its losses, and everything the classifier has."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautoint import AutoIntRegressor, make_field_transformer, persistence
from skautoint.inspection import AttentionMapDisplay, rank_field_pairs

QUICK = dict(max_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def hours(adult):
    """Adult's hours worked per week as the target: 4,000 training and 2,000 test rows."""
    X, _, X_test, _ = adult
    X, X_test = X.iloc[:4000].copy(), X_test.iloc[:2000].copy()
    return X, X.pop("hours_per_week").astype(float), X_test, X_test.pop("hours_per_week")


@pytest.fixture(scope="module")
def fitted(hours):
    X, y, _, _ = hours
    return AutoIntRegressor(**QUICK).fit(X, y)


def _rmse(y, prediction):
    return float(np.sqrt(mean_squared_error(y, prediction)))


def test_hours_per_week_are_predicted_better_than_a_constant(fitted, hours):
    X, y, X_test, y_test = hours
    constant = _rmse(y_test, DummyRegressor().fit(X, y).predict(X_test))
    rmse = _rmse(y_test, fitted.predict(X_test))
    assert rmse < 0.93 * constant  # the mean alone: R² of 0; sex, age, occupation explain more
    assert fitted.score(X_test, y_test) == pytest.approx(r2_score(y_test, fitted.predict(X_test)))
    assert fitted.score(X_test, y_test) > 0.12
    assert [r["valid_score"] for r in fitted.history_][-1] > 0.1  # R² of the validation rows


def test_movielens_ratings_are_learned_from_user_and_item_fields(movielens):
    X, y = movielens
    X, y = X.iloc[:30_000], y.iloc[:30_000].astype(float)
    X_train, X_test, y_train, y_test = X.iloc[:24_000], X.iloc[24_000:], y[:24_000], y[24_000:]
    model = AutoIntRegressor(max_epochs=6, random_state=0).fit(X_train, y_train)
    constant = _rmse(y_test, np.full(len(y_test), y_train.mean()))
    rmse = _rmse(y_test, model.predict(X_test))
    assert rmse < 0.92 * constant, (rmse, constant)
    assert 1.0 < model.predict(X_test).mean() < 5.0


def test_the_target_is_standardised_inside(hours):
    """Fitting y or 1000 * y + 5 trains the same network: the predictions move with y."""
    X, y, X_test, _ = hours
    plain = AutoIntRegressor(max_epochs=2, random_state=0).fit(X, y)
    moved = AutoIntRegressor(max_epochs=2, random_state=0).fit(X, 1000 * y + 5)
    np.testing.assert_allclose(moved.predict(X_test), 1000 * plain.predict(X_test) + 5,
                               rtol=1e-4)
    assert moved._loss.shift == pytest.approx(1000 * plain._loss.shift + 5)


@pytest.mark.parametrize("loss", ["absolute_error", "huber", "poisson", "gamma"])
def test_every_loss_beats_a_constant_on_its_own_scale(hours, loss):
    X, y, X_test, y_test = hours
    # 8 epochs: after 4, the absolute error is within 2-4% of the median's, by seed
    model = AutoIntRegressor(loss=loss, **{**QUICK, "max_epochs": 8}).fit(X, y)
    prediction = model.predict(X_test)
    assert prediction.dtype == np.float64 and prediction.shape == y_test.shape
    if loss in ("poisson", "gamma"):
        assert (prediction > 0).all()
    constant = np.median(y) if loss == "absolute_error" else y.mean()
    error = np.abs(y_test - prediction).mean() if loss == "absolute_error" else \
        _rmse(y_test, prediction)
    baseline = np.abs(y_test - constant).mean() if loss == "absolute_error" else \
        _rmse(y_test, np.full(len(y_test), constant))
    assert error < 0.97 * baseline, (loss, error, baseline)


def test_quantile_loss_predicts_the_requested_quantile(hours):
    X, y, X_test, y_test = hours
    high = AutoIntRegressor(loss="quantile", quantile=0.9, **QUICK).fit(X, y)
    low = AutoIntRegressor(loss="quantile", quantile=0.1, **QUICK).fit(X, y)
    below_high = (y_test <= high.predict(X_test)).mean()
    below_low = (y_test <= low.predict(X_test)).mean()
    assert 0.8 < below_high < 0.97 and 0.03 < below_low < 0.25, (below_high, below_low)
    assert high.history_[0]["valid_score"] > 0  # the mean pinball loss, in hours


@pytest.mark.parametrize(("loss", "y", "match"), [
    ("poisson", [1.0, -1.0, 2.0, 0.0], r"non-negative target; `y` holds 1 value\(s\) outside"),
    ("poisson", [0.0, 0.0, 0.0, 0.0], "needs some positive target values; the training target "
                                      "is all zeros"),
    ("gamma", [1.0, 0.0, 2.0, 3.0], r"strictly positive target; `y` holds 1 value\(s\)"),
])
def test_log_link_losses_reject_targets_outside_their_domain(loss, y, match):
    X = pd.DataFrame({"a": ["x", "y", "x", "y"]})
    model = AutoIntRegressor(loss=loss, max_epochs=1)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)
    assert not hasattr(model, "module_")


def test_quantile_needs_its_level_and_targets_must_be_numbers_in_one_column():
    X = pd.DataFrame({"a": ["x", "y", "x", "y"]})
    with pytest.raises(ValueError, match="loss='quantile' needs the `quantile` level"):
        AutoIntRegressor(loss="quantile", max_epochs=1).fit(X, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"predicts one target per row; `y` has shape \(4, 2\)"):
        AutoIntRegressor(max_epochs=1).fit(X, np.ones((4, 2)))
    with pytest.raises(ValueError, match="`y` must hold numbers"):
        AutoIntRegressor(max_epochs=1).fit(X, np.array(["a", "b", "c", "d"]))
    with pytest.warns(DataConversionWarning):
        AutoIntRegressor(max_epochs=1).fit(X, np.ones((4, 1)))


def test_validation_rows_given_by_the_user(hours):
    X, y, X_test, y_test = hours
    model = AutoIntRegressor(max_epochs=3, random_state=0).fit(X, y, X_val=X_test[:500],
                                                              y_val=y_test[:500])
    assert all("valid_loss" in record for record in model.history_)
    best = max(model.history_, key=lambda r: r["best"] * r["epoch"])
    assert best["valid_score"] == pytest.approx(model.score(X_test[:500], y_test[:500]),
                                                abs=1e-4)
    with pytest.raises(ValueError, match="loss='gamma' needs a strictly positive target; "
                                         "`y_val`"):
        AutoIntRegressor(loss="gamma", max_epochs=1).fit(X, y, X_val=X_test[:10],
                                                         y_val=np.zeros(10))


def test_partial_fit_keeps_the_first_chunks_standardisation(hours):
    X, y, X_test, y_test = hours
    model = AutoIntRegressor(random_state=0)
    for rows in np.array_split(np.arange(len(X)), 4):
        model.partial_fit(X.iloc[rows], y.iloc[rows])
    first = y.iloc[:1000]
    assert model._loss.shift == pytest.approx(first.mean())
    assert model.n_iter_ == 4 and [r["epoch"] for r in model.history_] == [1, 2, 3, 4]
    assert model.score(X_test, y_test) > 0.05


def test_warm_start_continues_with_the_same_scale(hours):
    X, y, _, _ = hours
    model = AutoIntRegressor(max_epochs=1, warm_start=True, early_stopping=False,
                             random_state=0).fit(X, y)
    shift = model._loss.shift
    model.fit(X.iloc[:1000], y.iloc[:1000] + 100)
    assert model._loss.shift == shift and model.n_iter_ == 2


def test_pipeline_grid_over_the_field_transformer(hours):
    X, y, _, _ = hours
    pipeline = make_pipeline(make_field_transformer(), AutoIntRegressor(max_epochs=2,
                                                                        random_state=0))
    search = GridSearchCV(pipeline, {"fieldtransformer__continuous": ["embed", "bucketize"]},
                          cv=2).fit(X.iloc[:1500], y.iloc[:1500])
    assert search.best_params_["fieldtransformer__continuous"] in ("embed", "bucketize")
    assert len(search.cv_results_["mean_test_score"]) == 2


def test_pickle_persistence_and_skops_round_trips(fitted, hours, tmp_path):
    X_test = hours[2]
    expected = fitted.predict(X_test)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(X_test), expected)
    loaded = persistence.load(persistence.save(fitted, tmp_path / "model.skautoint"))
    np.testing.assert_array_equal(loaded.predict(X_test), expected)
    skops_io = pytest.importorskip("skops.io")
    data = skops_io.dumps(fitted)
    assert set(skops_io.get_untrusted_types(data=data)) <= set(persistence.SKOPS_TRUSTED_TYPES)
    loaded = skops_io.loads(data, trusted=persistence.SKOPS_TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.predict(X_test), expected)


def test_onnx_graph_predicts_what_predict_does(hours):
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from skautoint.serving import onnx_inputs, output_name, to_onnx

    X, y, X_test, _ = hours
    model = AutoIntRegressor(loss="poisson", linear_term=True, **QUICK).fit(X, y)
    proto = to_onnx(model, X.iloc[:5])
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    assert output_name(model) == "predictions"
    prediction = session.run(None, onnx_inputs(model, X_test))[0]
    assert prediction.shape == (len(X_test),)
    np.testing.assert_allclose(prediction, model.predict(X_test), rtol=1e-5)


def test_attention_maps_and_display(fitted, hours):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X_test = hours[2]
    attention = fitted.attention_weights(X_test[:100], per_row=False)
    assert attention["mean"].shape == (fitted.n_layers, fitted.n_heads, 13, 13)
    assert len(rank_field_pairs(attention)) == 13 * 12 // 2
    display = AttentionMapDisplay.from_estimator(fitted, X_test[:50])
    assert display.ax_.get_xticklabels()[0].get_text() == "age"


def test_verbose_table_names_the_regression_score(hours, capsys):
    X, y, _, _ = hours
    AutoIntRegressor(max_epochs=1, verbose=1, random_state=0).fit(X.iloc[:500], y.iloc[:500])
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["epoch", "train_loss", "valid_loss", "valid_r2", "seconds"]
    AutoIntRegressor(loss="quantile", quantile=0.5, max_epochs=1, verbose=1).fit(
        X.iloc[:500], y.iloc[:500])
    assert "valid_pinball" in capsys.readouterr().out


def test_a_parameter_set_that_cannot_be_built_fails_before_any_work(hours):
    X, y, _, _ = hours
    model = AutoIntRegressor(residual="identity", attention_dim=32)
    with pytest.raises(ValueError, match="residual='identity' adds a layer's input"):
        model.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoIntRegressor(residual="identity", attention_dim=8, max_epochs=1).fit(
            X.iloc[:300], y.iloc[:300])


def test_a_failed_refit_leaves_the_previous_model(fitted, hours):
    X, y, X_test, _ = hours
    model = pickle.loads(pickle.dumps(fitted))
    before = model.predict(X_test)
    y_val = np.full(50, np.nan)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X, y * 0.01, X_val=X_test[:50], y_val=y_val)
    np.testing.assert_array_equal(model.predict(X_test), before)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X_test), before)
    assert model._loss.shift == pytest.approx(y.mean())


def test_warm_start_and_partial_fit_refuse_another_loss(hours):
    X, y, _, _ = hours
    model = AutoIntRegressor(max_epochs=1, warm_start=True, random_state=0).fit(X, y)
    model.set_params(loss="gamma")
    with pytest.raises(ValueError, match=r"cannot replace it\. Fit anew"):
        model.fit(X, y)
    assert model._loss.name == "squared_error"
    chunked = AutoIntRegressor(loss="quantile", quantile=0.5).partial_fit(X[:500], y[:500])
    with pytest.raises(ValueError, match=r"quantile=0\.9"):
        chunked.set_params(quantile=0.9).partial_fit(X[500:1000], y[500:1000])


def test_a_later_count_chunk_of_zeros_is_valid_data():
    X = pd.DataFrame({"a": ["x", "y"] * 50})
    model = AutoIntRegressor(loss="poisson", random_state=0)
    model.partial_fit(X, np.arange(100) % 3)
    model.partial_fit(X, np.zeros(100))  # only the first chunk's mean must be positive
    assert model.n_iter_ == 2
    with pytest.raises(ValueError, match="non-negative target; `y` holds 1 value"):
        model.partial_fit(X, np.r_[-1.0, np.zeros(99)])
    assert model.n_iter_ == 2
