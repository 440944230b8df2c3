"""continuous="piecewise_linear": numbers as a blend of learned knot vectors (a two-slot block
per column, read by the network like a multi-valued field)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier, AutoIntRegressor, FieldTransformer
from skautoint._fields import FieldSpec, PiecewiseLinearEncoder


def test_knots_at_the_quantiles_and_the_ends_and_blend_weights_between_them():
    X = np.array([[0.0], [1.0], [2.0], [4.0], [np.nan]])
    encoder = PiecewiseLinearEncoder(n_bins=2).fit(X)
    np.testing.assert_array_equal(encoder.knots_[0], [0.0, 1.0, 4.0])
    assert encoder.n_codes_.tolist() == [4]  # missing, then 3 knots
    out = encoder.transform(np.array([[0.0], [0.25], [1.0], [3.25], [4.0], [-7.0], [9.0],
                                      [np.nan]]))
    codes, weights = out[:, :2].astype(int), out[:, 2:]
    assert codes.tolist() == [[1, 2], [1, 2], [2, 3], [2, 3], [3, 3], [1, 2], [3, 3], [0, 0]]
    np.testing.assert_allclose(weights, [[1, 0], [0.75, 0.25], [1, 0], [0.25, 0.75], [1, 0],
                                         [1, 0], [1, 0], [1, 0]])
    # the blend is continuous: just below and above a knot give nearly the same weights
    below, above = encoder.transform(np.array([[1 - 1e-9], [1 + 1e-9]]))
    assert below[2] == pytest.approx(1e-9, abs=1e-8) and above[2] == pytest.approx(1.0)


def test_constant_and_empty_columns_get_one_knot_and_infinity_is_refused():
    X = pd.DataFrame({"constant": [3.0] * 5, "empty": [np.nan] * 5})
    encoder = PiecewiseLinearEncoder().set_output(transform="pandas").fit(X)
    assert [len(k) for k in encoder.knots_] == [1, 1]
    out = encoder.transform(pd.DataFrame({"constant": [3.0, 10.0], "empty": [np.nan, 2.0]}))
    assert out.columns.tolist() == [
        "constant[0]", "constant[1]", "constant:weight[0]", "constant:weight[1]",
        "empty[0]", "empty[1]", "empty:weight[0]", "empty:weight[1]"]
    assert out["constant[0]"].tolist() == [1, 1] and out["empty[0]"].tolist() == [0, 1]
    assert out["constant:weight[0]"].tolist() == [1.0, 1.0]
    assert str(out.dtypes.iloc[0]) == "category" and out.dtypes.iloc[2] == np.float32
    with pytest.raises(ValueError, match="Column 'constant' contains infinity"):
        encoder.transform(pd.DataFrame({"constant": [np.inf], "empty": [1.0]}))


def test_the_transformer_gives_one_two_slot_field_per_number_and_is_idempotent():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.normal(40, 10, 200), "city": rng.choice(["a", "b"], 200)})
    X.loc[::9, "age"] = np.nan
    transformer = FieldTransformer(continuous="piecewise_linear").fit(X)
    out = transformer.transform(X)
    spec = FieldSpec.from_encoded(out)
    assert spec.names == ("age", "city") and spec.kinds == ("bag", "coded")
    assert spec.field_slots == (2, 1)
    assert transformer.get_feature_names_out().tolist() == [
        "age[0]", "age[1]", "age:weight[0]", "age:weight[1]", "city"]
    np.testing.assert_allclose(out[["age:weight[0]", "age:weight[1]"]].sum(axis=1), 1.0)
    again = FieldTransformer(continuous="piecewise_linear").fit(out).transform(out)
    pd.testing.assert_frame_equal(again, out)
    overridden = FieldTransformer(continuous_overrides={"age": "piecewise_linear"}).fit(X)
    assert FieldSpec.from_encoded(overridden.transform(X)).kinds == ("bag", "coded")


def test_a_smooth_effect_is_learned_from_fewer_rows_than_buckets_need():
    # P(y) rises smoothly with x: with 600 rows, knots shared by neighbouring values learn it
    # better than independent buckets
    rng = np.random.default_rng(0)
    n = 6000
    X = pd.DataFrame({"x": rng.uniform(-3, 3, n), "noise": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * np.sin(X["x"])))).astype(int)
    train, test = slice(0, 600), slice(600, None)
    scores = {}
    for continuous in ("bucketize", "piecewise_linear"):  # the mean of 3 seeds
        scores[continuous] = np.mean([roc_auc_score(y[test], AutoIntClassifier(
            continuous=continuous, n_bins=32, random_state=seed).fit(X[train], y[train])
            .predict_proba(X[test])[:, 1]) for seed in range(3)])
    oracle = roc_auc_score(y[test], np.sin(X["x"][test]))
    assert scores["piecewise_linear"] > oracle - 0.02
    assert scores["piecewise_linear"] > scores["bucketize"]


def test_estimators_fit_predict_save_and_export_with_piecewise_linear_numbers(
        adult_small, assert_saved_forms_predict_alike):
    X, y, X_test, y_test = adult_small
    model = AutoIntClassifier(continuous="piecewise_linear", max_epochs=3, random_state=0)
    model.fit(X, y)
    assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.85
    assert model.attention_weights(X_test[:5]).field_names.tolist() == X.columns.tolist()
    assert_saved_forms_predict_alike(model, X_test)  # pickle, skops, ONNX
    regressor = AutoIntRegressor(continuous="piecewise_linear", max_epochs=3, random_state=0)
    features, hours = X.drop(columns="hours_per_week"), X["hours_per_week"].to_numpy()
    regressor.fit(features, hours)  # the session's fixture stays as it was
    assert np.corrcoef(regressor.predict(features), hours)[0, 1] > 0.3
