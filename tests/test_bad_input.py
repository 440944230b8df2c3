"""Every row of the bad-input table in docs/bad_input.rst: what each odd input gets.

The rule: a ValueError/TypeError naming the column or parameter, or a documented handling
that gives finite predictions. A last test keeps the docs table and these cases in step.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import test_multivalued  # the rows of their tables, documented beside these
import test_transactions
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import InvalidParameterError

from skautoint import AutoIntClassifier, AutoIntRegressor, make_field_transformer
from skautoint.exceptions import HighCardinalityWarning, LevelTypeChangedWarning

TINY = dict(max_epochs=2, embedding_dim=4, attention_dim=4, n_layers=1, random_state=0)
N = 60
RNG = np.random.default_rng(0)
BASE = pd.DataFrame({"a": RNG.normal(size=N), "c": RNG.choice(["x", "y", "z"], size=N)})
Y = np.array([0, 1] * (N // 2))
DOCS_TABLE = Path(__file__).resolve().parents[1] / "docs" / "bad_input.rst"


def fit(X, y=Y, **params):
    return AutoIntClassifier(**{**TINY, **params}).fit(X, y)


def assert_predicts(X, y=Y, **params):
    """The documented handling: fit works and predictions are finite probabilities."""
    proba = fit(X, y, **params).predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def encoded(X, column, **params):
    return make_field_transformer(min_frequency=1, **params).fit_transform(X)[column].tolist()


def with_column(**columns):
    return BASE.assign(**columns)


# --------------------------------------------------------------------------------- X at fit
FIT_ERRORS = [
    pytest.param(BASE.iloc[:0], Y[:0], ValueError, "0 sample", id="X-no-rows"),
    pytest.param(BASE.iloc[:, :0], Y, ValueError, "0 feature", id="X-no-columns"),
    pytest.param(BASE.iloc[:1], Y[:1], ValueError, "at least 2 classes", id="X-one-row"),
    pytest.param(with_column(a=BASE.a.where(BASE.index != 3, np.inf)), Y, ValueError,
                 "Column 'a' contains infinity", id="X-inf-bucketized"),
    pytest.param(with_column(d=pd.date_range("2020", periods=N)), Y, TypeError,
                 "Column 'd' has dtype datetime64", id="X-datetime"),
    pytest.param(with_column(d=pd.to_timedelta(np.arange(N), unit="D")), Y, TypeError,
                 "Column 'd' has dtype timedelta64", id="X-timedelta"),
    pytest.param(with_column(z=np.full(N, 1 + 2j)), Y, ValueError, "column 'z'",
                 id="X-complex"),
    pytest.param(with_column(l=[[[1, 2]]] * N), Y, TypeError,
                 r"Column 'l' is multi-valued, but row 0 holds the level \[1, 2\] of type list",
                 id="X-nested-lists"),
    pytest.param(with_column(l=[{"k": "heavy"}] * N), Y, ValueError,
                 "Column 'l', row 0: a weighted cell maps levels to weights", id="X-dicts"),
    pytest.param(sp.csr_matrix(RNG.normal(size=(N, 3))), Y, TypeError, "Sparse input",
                 id="X-scipy-sparse"),
    pytest.param(pd.concat([BASE, BASE[["a"]]], axis=1), Y, ValueError,
                 r"duplicated column names \['a'\]", id="X-duplicated-names"),
    pytest.param(BASE.set_axis(["a", 1], axis=1), Y, TypeError, "string names",
                 id="X-mixed-name-types"),
]


@pytest.mark.parametrize(("X", "y", "error", "match"), FIT_ERRORS)
def test_fit_rejects_with_a_message_naming_the_problem(X, y, error, match):
    with pytest.raises(error, match=match):
        fit(X, y)


def test_inf_is_rejected_in_embedded_columns_too():
    X = with_column(a=BASE.a.where(BASE.index != 3, -np.inf))
    with pytest.raises(ValueError, match="Column 'a' contains infinity"):
        fit(X, continuous="embed")


FIT_HANDLED = [
    pytest.param(BASE.iloc[[0, 1]], Y[[0, 1]], {}, id="X-one-row-per-class"),
    pytest.param(BASE[["a"]], Y, {}, id="X-one-numeric-column"),
    pytest.param(BASE[["c"]], Y, {}, id="X-one-categorical-column"),
    pytest.param(with_column(b=np.nan), Y, {}, id="X-all-nan-numeric-column"),
    pytest.param(with_column(b=np.nan), Y, {"continuous": "embed"},
                 id="X-all-nan-embedded-column"),
    pytest.param(with_column(b=pd.Series([None] * N, dtype=object)), Y, {},
                 id="X-all-missing-object-column"),
    pytest.param(with_column(b=3.0), Y, {}, id="X-constant-column"),
    pytest.param(with_column(b=3.0), Y, {"continuous": "embed"},
                 id="X-constant-embedded-column"),
    pytest.param(with_column(s=["x" * 100_000, "y" * 100_000] * (N // 2)), Y, {},
                 id="X-very-long-strings"),
    pytest.param(with_column(i=pd.array([1, None] * (N // 2), dtype="Int64")), Y, {},
                 id="X-nullable-Int64"),
    pytest.param(with_column(i=pd.array([1.5, None] * (N // 2), dtype="Float64")), Y,
                 {"continuous": "embed"}, id="X-nullable-Float64"),
    pytest.param(with_column(i=pd.array([True, None] * (N // 2), dtype="boolean")), Y, {},
                 id="X-nullable-boolean"),
    pytest.param(with_column(i=pd.array(["p", None] * (N // 2), dtype="string")), Y, {},
                 id="X-nullable-string"),
    pytest.param(
        with_column(i=pd.Categorical(["p", "q"] * (N // 2), categories=["p", "q", "r"])), Y,
        {}, id="X-category-unused-levels"),
    pytest.param(pd.DataFrame.sparse.from_spmatrix(sp.csr_matrix(RNG.normal(size=(N, 3)))), Y,
                 {}, id="X-pandas-sparse-columns"),
    pytest.param(BASE.set_axis([0, 1], axis=1), Y, {}, id="X-integer-column-names"),
    pytest.param(BASE.to_numpy(), Y, {"categorical_features": [1]}, id="X-object-array"),
]


@pytest.mark.parametrize(("X", "y", "params"), FIT_HANDLED)
def test_fit_handles_and_predicts_finite_probabilities(X, y, params):
    assert_predicts(X, y, **params)


def test_ints_and_strings_in_one_column_are_distinct_levels():
    X = with_column(m=pd.Series([1, "1", "b"] * (N // 3), dtype=object))
    assert_predicts(X)
    codes = encoded(X, "m")
    assert len({codes[0], codes[1], codes[2]}) == 3


def test_bytes_are_levels_of_their_own():
    X = with_column(m=[b"x", "x"] * (N // 2))
    assert_predicts(X)
    codes = encoded(X, "m")
    assert codes[0] != codes[1]


def test_unicode_and_empty_string_are_levels_not_missing():
    X = with_column(s=["ünï😀", "", None] * (N // 3))
    assert_predicts(X)
    codes = encoded(X, "s")
    assert codes[2] == 0  # missing
    assert codes[0] not in (0, codes[1]) and codes[1] != 0


def test_identifier_column_warns_and_max_categories_bounds_the_table():
    n = 2000
    X = pd.DataFrame({"id": [f"user{i}" for i in range(n)], "a": RNG.normal(size=n)})
    y = np.arange(n) % 2
    with pytest.warns(HighCardinalityWarning, match="Column 'id' looks like an identifier"):
        clf = fit(X, y, early_stopping=False)
    assert clf.field_spec_.sizes[0] == 3 + 1  # reserved codes (+ spare row): every id is rare
    with pytest.warns(HighCardinalityWarning) as record:
        capped = fit(X, y, min_frequency=1, max_categories=50, early_stopping=False)
    assert any("max_categories=50 keeps the most frequent" in str(w.message) for w in record)
    assert capped.field_spec_.sizes[0] == 3 + 50 + 1


# --------------------------------------------------------------------------------- X at predict
@pytest.fixture(scope="module")
def fitted():
    return fit(BASE)


@pytest.fixture(scope="module")
def fitted_on_array():
    return fit(BASE.to_numpy(), categorical_features=[1])


PREDICT_ERRORS = [
    pytest.param(BASE[["a"]], ValueError, r"missing:\n- c", id="predict-missing-column"),
    pytest.param(BASE[["c", "a"]], ValueError, "same order", id="predict-reordered-columns"),
    pytest.param(BASE.assign(z=1), ValueError, r"unseen at fit time:\n- z",
                 id="predict-extra-column"),
    pytest.param(BASE.assign(a="text"), ValueError,
                 "Column 'a' is treated as continuous but holds values that are not numbers",
                 id="predict-numeric-column-now-text"),
    pytest.param(BASE.assign(a=np.inf), ValueError, "Column 'a' contains infinity",
                 id="predict-inf"),
    pytest.param(BASE.iloc[:0], ValueError, "0 sample", id="predict-no-rows"),
]


@pytest.mark.parametrize(("X", "error", "match"), PREDICT_ERRORS)
def test_predict_rejects_with_a_message_naming_the_problem(fitted, X, error, match):
    with pytest.raises(error, match=match):
        fitted.predict_proba(X)


def test_predict_array_with_wrong_column_count(fitted_on_array):
    with pytest.raises(ValueError, match="X has 1 features, but AutoIntClassifier is expecting 2"):
        fitted_on_array.predict_proba(BASE.to_numpy()[:, :1])


def test_predict_array_after_frame_warns_once_and_matches(fitted):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba = fitted.predict_proba(BASE.to_numpy())
    assert [str(w.message) for w in caught] == [
        "X does not have valid feature names, but AutoIntClassifier was fitted with feature names"
    ]
    np.testing.assert_array_equal(proba, fitted.predict_proba(BASE))


def test_predict_frame_after_array_warns_and_matches(fitted_on_array):
    with pytest.warns(UserWarning, match="fitted without feature names"):
        proba = fitted_on_array.predict_proba(BASE)
    np.testing.assert_array_equal(proba, fitted_on_array.predict_proba(BASE.to_numpy()))


def test_predict_categorical_column_of_another_type_warns(fitted):
    with pytest.warns(LevelTypeChangedWarning, match="Column 'c' held string levels"):
        proba = fitted.predict_proba(BASE.assign(c=7))
    assert np.isfinite(proba).all()


PREDICT_SAME = [
    pytest.param(BASE.assign(a=BASE.a.astype(str)), id="predict-numbers-as-digit-strings"),
    pytest.param(BASE.assign(c=BASE.c.astype("category")), id="predict-category-dtype"),
    pytest.param(BASE.assign(c=BASE.c.astype("string")), id="predict-string-dtype"),
]


@pytest.mark.parametrize("X", PREDICT_SAME)
def test_predict_same_values_in_another_dtype_give_the_same_predictions(fitted, X):
    np.testing.assert_allclose(fitted.predict_proba(X), fitted.predict_proba(BASE), rtol=1e-6)


PREDICT_HANDLED = [
    pytest.param(BASE.assign(c="never-seen"), BASE.assign(c="also-new"),
                 id="predict-unseen-levels"),
    pytest.param(BASE.assign(c=None), BASE.assign(c=np.nan),
                 id="predict-missing-where-fit-had-none"),
]


@pytest.mark.parametrize(("X", "X_same_code"), PREDICT_HANDLED)
def test_predict_maps_unseen_and_missing_to_their_reserved_codes(fitted, X, X_same_code):
    proba = fitted.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_array_equal(proba, fitted.predict_proba(X_same_code))
    assert not np.array_equal(proba, fitted.predict_proba(BASE))


# --------------------------------------------------------------------------------- y and weights
Y_ERRORS = [
    pytest.param(np.where(np.arange(N) == 3, np.nan, Y), ValueError, "y contains NaN",
                 id="y-nan"),
    pytest.param(np.array([None] + ["a", "b"] * (N // 2 - 1) + ["a"], dtype=object),
                 ValueError, r"`y` holds 1 missing label", id="y-none"),
    pytest.param(np.zeros(N), ValueError, "at least 2 classes", id="y-single-class"),
    pytest.param(RNG.normal(size=N), ValueError, "Unknown label type: continuous",
                 id="y-continuous"),
    pytest.param(np.c_[Y, Y], ValueError, "1d array", id="y-two-columns"),
    pytest.param(np.array([1, "a"] * (N // 2), dtype=object), ValueError,
                 r"mixes label types \['int', 'str'\]", id="y-mixed-label-types"),
    pytest.param(Y[:-1], ValueError, "inconsistent numbers of samples", id="y-wrong-length"),
]


@pytest.mark.parametrize(("y", "error", "match"), Y_ERRORS)
def test_fit_rejects_bad_targets(y, error, match):
    with pytest.raises(error, match=match):
        fit(BASE, y)


def test_column_vector_y_warns_and_is_used():
    with pytest.warns(DataConversionWarning):
        clf = fit(BASE, Y[:, None])
    assert clf.classes_.tolist() == [0, 1]


def test_nullable_integer_y_is_accepted():
    clf = fit(BASE, pd.array(list(Y), dtype="Int64"))
    assert clf.classes_.tolist() == [0, 1]


WEIGHT_ERRORS = [
    pytest.param(np.where(np.arange(N) == 0, -1.0, 1.0), "Negative values", id="weight-negative"),
    pytest.param(np.where(np.arange(N) == 0, np.nan, 1.0), "sample_weight contains NaN",
                 id="weight-nan"),
    pytest.param(np.where(np.arange(N) == 0, np.inf, 1.0), "sample_weight contains infinity",
                 id="weight-inf"),
    pytest.param(np.ones(N - 1), r"sample_weight.shape == \(59,\), expected \(60,\)",
                 id="weight-wrong-length"),
    pytest.param(np.zeros(N), "at least one non-zero", id="weight-all-zero"),
]


@pytest.mark.parametrize(("weight", "match"), WEIGHT_ERRORS)
def test_fit_rejects_bad_sample_weights(weight, match):
    with pytest.raises(ValueError, match=match):
        AutoIntClassifier(**TINY).fit(BASE, Y, sample_weight=weight)


def test_validation_data_needs_both_parts_and_known_labels():
    with pytest.raises(ValueError, match="Pass both `X_val` and `y_val`"):
        AutoIntClassifier(**TINY).fit(BASE, Y, X_val=BASE)
    with pytest.raises(ValueError, match=r"`y_val` holds labels not seen in `y`: \[5\]"):
        AutoIntClassifier(**TINY).fit(BASE, Y, X_val=BASE, y_val=np.full(N, 5))


# --------------------------------------------------------------------------------- parameters
INVALID_PARAMS = {
    "categorical_features": "all", "continuous": "log", "continuous_overrides": [("a", "embed")],
    "min_frequency": 0, "max_categories": 0, "n_bins": 1, "field_transformer": "encoder",
    "multi_valued_features": ["genres"], "multi_valued_pooling": "max",
    "max_levels_per_cell": 0, "target_statistics": "all",
    "embedding_dim": 0, "n_layers": -1, "n_heads": 0, "attention_dim": 0, "residual": "yes",
    "output_projection": "both", "activation": "gelu", "attention_scaling": 1,
    "field_pair_bias": "first", "layer_norm": "before", "projection_bias": "no", "field_bias": 1,
    "linear_term": None, "mlp_hidden_units": 64,
    "dropout": 1.0, "learning_rate": 0.0, "batch_size": 0, "max_epochs": 0, "weight_decay": -1.0,
    "embedding_weight_decay": -1.0, "embedding_update": "sparse", "early_stopping": "sometimes",
    "validation_fraction": 1.0, "n_iter_no_change": 0, "tol": -1.0, "class_weight": "auto",
    "random_state": "seed", "verbose": "loud", "device": "tpu", "precision": "float16",
    "warm_start": "yes",
    "distributed": "yes",
}


@pytest.mark.parametrize("estimator", [AutoIntClassifier, AutoIntRegressor])
def test_every_parameter_rejects_an_invalid_value_in_scikit_learn_style(estimator):
    invalid = dict(INVALID_PARAMS)
    if estimator is AutoIntRegressor:
        del invalid["class_weight"]
        invalid.update(loss="log_loss", quantile=1.5)
    assert set(invalid) == set(estimator().get_params())
    for name, value in invalid.items():
        with pytest.raises(InvalidParameterError,
                           match=f"The '{name}' parameter of {estimator.__name__} must be"):
            estimator(**{name: value}).fit(BASE, Y)


def test_classifier_and_regressor_share_every_default_but_the_field_pair_bias():
    # the one measured exception: the bias pays for the classifier, and cost the regressor
    # on MovieLens ratings (docs/benchmarks.rst)
    classifier, regressor = AutoIntClassifier().get_params(), AutoIntRegressor().get_params()
    shared = set(classifier) & set(regressor)
    assert shared == set(classifier) - {"class_weight"} == set(regressor) - {"loss", "quantile"}
    differing = {name for name in shared if classifier[name] != regressor[name]}
    assert differing == {"field_pair_bias"}
    assert (classifier["field_pair_bias"], regressor["field_pair_bias"]) == ("first_layer",
                                                                             "none")


@pytest.mark.parametrize(("params", "match"), [
    ({"mlp_hidden_units": (32, 0)}, "The 'mlp_hidden_units' parameter .* positive ints"),
    ({"mlp_hidden_units": ("wide",)}, "The 'mlp_hidden_units' parameter .* positive ints"),
    ({"categorical_features": ["nope"]}, "names column 'nope', which is not in X"),
    ({"categorical_features": [5]}, "holds index 5, but X has 2 columns"),
    ({"continuous_overrides": {"a": "log"}}, r"continuous_overrides\['a'\]` must be one of"),
    ({"continuous_overrides": {"nope": "embed"}}, "names column 'nope'"),
])
def test_parameter_values_that_depend_on_X_are_checked_at_fit(params, match):
    with pytest.raises(ValueError, match=match):
        AutoIntClassifier(**{**TINY, **params}).fit(BASE, Y)


# --------------------------------------------------------------------------------- docs in step
def _case_ids():
    groups = [FIT_ERRORS, FIT_HANDLED, PREDICT_ERRORS, PREDICT_SAME, PREDICT_HANDLED, Y_ERRORS,
              WEIGHT_ERRORS]
    return {case.id for group in groups for case in group}


def test_docs_table_lists_every_case():
    documented = set(re.findall(r"^   \* - ``([\w-]+)``", DOCS_TABLE.read_text(), re.MULTILINE))
    tested = _case_ids() | {
        "X-inf-embedded", "X-ints-and-strings", "X-bytes", "X-unicode-and-empty-strings",
        "X-identifier-column", "predict-array-wrong-column-count", "predict-array-after-frame",
        "predict-frame-after-array", "predict-categorical-of-another-type", "y-column-vector",
        "y-nullable-integers", "validation-data", "parameters",
        "X-lazy-frame", "polars-output",  # tests/test_frames.py
    } | set(test_transactions.DOCUMENTED) | set(test_multivalued.DOCUMENTED) | {
        case.id for case in test_multivalued.BAD_INPUT}
    assert documented == tested
