"""Columns to fields: kind detection, reserved codes, scaling, bucketing and FieldSpec."""

import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skautoint import FieldTransformer, make_field_transformer
from skautoint._fields import (
    MISSING_CODE,
    RARE_CODE,
    UNKNOWN_CODE,
    CategoricalFieldEncoder,
    FieldBucketizer,
    FieldScaler,
    FieldSpec,
    resolve_field_kinds,
)
from skautoint.exceptions import LevelTypeChangedWarning


@pytest.fixture
def mixed_frame():
    return pd.DataFrame({
        "city": pd.array(["Oslo", "Lima", "Oslo", None, "Oslo", "Lima", "Pune"], dtype="str"),
        "plan": pd.Categorical(["a", "b", "a", "a", "b", "b", "a"]),
        "active": [True, False, True, True, False, True, True],
        "visits": [1.0, 5.0, 2.0, np.nan, 4.0, 100.0, 3.0],
        "age": [20, 31, 45, 27, 38, 52, 61],
        "note": ["x", "y", "x", "x", "y", "y", "z"],
    })


def test_kinds_from_dtype_and_from_the_user(mixed_frame):
    assert resolve_field_kinds(mixed_frame) == [
        "categorical", "categorical", "categorical", "embed", "embed", "categorical"]
    kinds = resolve_field_kinds(mixed_frame, categorical_features=["age", "city"],
                                continuous="bucketize", continuous_overrides={"visits": "embed"})
    assert kinds == ["categorical", "bucketize", "bucketize", "embed", "categorical", "bucketize"]
    mask = [False, False, False, False, True, False]
    assert resolve_field_kinds(mixed_frame, categorical_features=mask)[4] == "categorical"
    assert resolve_field_kinds(mixed_frame, categorical_features=[4])[4] == "categorical"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"categorical_features": ["nope"]}, "'nope'"),
        ({"categorical_features": [9]}, "index 9"),
        ({"categorical_features": [True, False]}, "6 entries"),
        ({"continuous": "log"}, "'continuous' parameter"),
        ({"continuous_overrides": {"age": "log"}}, "continuous_overrides"),
        ({"continuous_overrides": {"nope": "embed"}}, "'nope'"),
    ],
)
def test_bad_field_parameters_name_the_culprit(mixed_frame, params, message):
    with pytest.raises(ValueError, match=message):
        make_field_transformer(**params).fit(mixed_frame)


def test_non_numeric_continuous_column_gets_a_clear_error(mixed_frame):
    with pytest.raises(ValueError, match="'plan' is treated as continuous"):
        make_field_transformer(categorical_features=["city"]).fit(mixed_frame)


def test_datetime_column_is_rejected_by_name():
    X = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3), "x": [1, 2, 3]})
    with pytest.raises(TypeError, match="'when'"):
        make_field_transformer().fit(X)


def test_a_declared_level_no_row_holds_is_unknown_not_rare(adult_small):
    X, _, X_test, _ = adult_small
    levels = sorted(set(X["workclass"].dropna()) | {"Declared-only"})
    declared = X.assign(workclass=pd.Categorical(X["workclass"], categories=levels))
    encoder = CategoricalFieldEncoder().fit(declared[["workclass"]])
    assert "Declared-only" not in encoder.infrequent_categories_[0]
    new = pd.DataFrame({"workclass": pd.Categorical(["Declared-only"], categories=levels)})
    assert encoder.transform(new).ravel().tolist() == [UNKNOWN_CODE]
    # the moment the dtype was set does not change the encoding
    plain = make_field_transformer().fit(X).transform(X_test)
    early = make_field_transformer().fit(declared).transform(X_test)
    pd.testing.assert_frame_equal(early, plain)


def test_reserved_codes_for_missing_unknown_and_rare():
    X = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 5 + ["rare"] + [None]})
    encoder = CategoricalFieldEncoder(min_frequency=2).fit(X)
    assert encoder.categories_[0].tolist() == ["a", "b"]
    assert encoder.infrequent_categories_[0].tolist() == ["rare"]
    new = pd.DataFrame({"c": ["a", "b", "rare", None, "never seen", np.nan]})
    codes = encoder.transform(new).ravel().tolist()
    assert codes == [3, 4, RARE_CODE, MISSING_CODE, UNKNOWN_CODE, MISSING_CODE]
    assert len({MISSING_CODE, UNKNOWN_CODE, RARE_CODE}) == 3
    # A float min_frequency is a share of the rows: 0.3 * 12 rows -> at least 4 occurrences.
    assert CategoricalFieldEncoder(min_frequency=0.3).fit(X).categories_[0].tolist() == ["a", "b"]
    assert CategoricalFieldEncoder(min_frequency=0.5).fit(X).categories_[0].tolist() == []


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "str", "large_string[pyarrow]",
                                   "string[python]"])
def test_arrow_strings_encode_as_python_objects_do(adult, dtype):
    # Arrow-backed string columns are matched in Arrow: the codes must be those of the same
    # cells as Python objects, with missing, unseen and rare levels, and after a pickle.
    pytest.importorskip("pyarrow")
    X = adult[0]
    columns = ["workclass", "occupation", "native_country"]
    train = X[columns].iloc[:3000].astype(object)
    train.iloc[::50, 0] = None
    new = X[columns].iloc[3000:6000].astype(object)
    new.iloc[::7, 1] = "a level never seen"
    new.iloc[::11, 2] = np.nan
    encoder = CategoricalFieldEncoder(min_frequency=5).fit(train)
    assert len(encoder.infrequent_categories_[2]) > 0  # rare levels are exercised
    expected = encoder.transform(new)
    assert {MISSING_CODE, UNKNOWN_CODE, RARE_CODE} <= set(np.unique(expected))
    typed = new.astype(dtype)
    assert np.array_equal(encoder.transform(typed), expected)
    assert np.array_equal(pickle.loads(pickle.dumps(encoder)).transform(typed), expected)
    # Levels that are not strings are never matched by Arrow strings: 1 and "1" differ.
    numbers = CategoricalFieldEncoder(min_frequency=1).fit(pd.DataFrame({"c": [1, 2, 1]}))
    with pytest.warns(LevelTypeChangedWarning):
        codes = numbers.transform(pd.DataFrame({"c": pd.array(["1", "2"], dtype=dtype)}))
    assert codes.ravel().tolist() == [UNKNOWN_CODE, UNKNOWN_CODE]


def test_categorical_encoding_of_numpy_object_arrays_and_mixed_types():
    X = np.array([[1, "x"], [2, "y"], [1, "x"], [None, "x"]], dtype=object)
    codes = CategoricalFieldEncoder(min_frequency=1).fit_transform(X)
    assert codes[:, 0].tolist() == [3, 4, 3, MISSING_CODE]
    assert codes[:, 1].tolist() == [3, 4, 3, 3]


def test_scaler_tames_criteo_heavy_tails_and_is_idempotent(criteo):
    X, _ = criteo
    counts = X[[f"I{i}" for i in range(1, 14)]]
    assert counts["I5"].max() > 1e6  # the heavy tail we must survive
    scaler = FieldScaler().fit(counts)
    scaled = scaler.transform(counts)
    finite = scaled[~np.isnan(scaled)]
    assert np.abs(finite).max() <= scaler.bound
    assert np.array_equal(np.isnan(scaled), counts.isna().to_numpy())  # NaN stays missing
    # Order is kept within a column (the scaling is monotone).
    i5 = counts["I5"].to_numpy()
    order = np.argsort(i5[~np.isnan(i5)], kind="stable")
    assert np.all(np.diff(scaled[~np.isnan(i5), 4][order]) >= 0)
    # Refitting on the output reproduces it exactly, so a Pipeline never scales twice.
    again = FieldScaler().fit(scaled)
    assert np.array_equal(again.transform(scaled), scaled, equal_nan=True)


def test_scaler_clips_to_the_fitted_range_and_rejects_infinity():
    scaler = FieldScaler().fit(np.array([[0.0], [1.0], [2.0], [3.0]]))
    assert scaler.transform(np.array([[-100.0], [100.0]])).ravel().tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="infinity"):
        scaler.transform(np.array([[np.inf]]))


def test_bucketizer_quantile_codes_and_missing_bucket():
    x = np.arange(100, dtype=float).reshape(-1, 1)
    bucketizer = FieldBucketizer(n_bins=4).fit(x)
    codes = bucketizer.transform(np.array([[0.0], [30.0], [60.0], [99.0], [1e9], [np.nan]]))
    assert codes.ravel().tolist() == [1, 2, 3, 4, 4, 0]
    counts = np.bincount(bucketizer.transform(x).ravel())
    assert counts[0] == 0 and np.all(np.abs(counts[1:5] - 25) <= 1)
    # A point mass (a mostly-zero count) gets one bucket; the other values share the rest.
    zeros = np.r_[np.zeros(80), np.arange(1, 21)].reshape(-1, 1)
    bucketizer = FieldBucketizer(n_bins=6).fit(zeros)
    assert bucketizer.n_codes_[0] <= 6 + 1
    codes = bucketizer.transform(zeros).ravel()
    assert len(set(codes[:80])) == 1 and codes[0] not in codes[80:]
    assert len(set(codes[80:])) >= 3  # plain quantiles would leave the non-zero values 1 bucket
    # Few distinct values: one bucket per value.
    assert FieldBucketizer(n_bins=8).fit(np.tile([1.0, 2.0, 5.0], 10)[:, None]).n_codes_[0] == 4


def test_auto_bucket_count_grows_with_rows():
    small = FieldBucketizer().fit(np.arange(1_000, dtype=float)[:, None])
    large = FieldBucketizer().fit(np.arange(40_000, dtype=float)[:, None])
    assert small.n_codes_[0] == 8 + 1 and large.n_codes_[0] == 128 + 1


def test_field_transformer_keeps_input_column_order(mixed_frame):
    transformer = make_field_transformer(min_frequency=1, continuous_overrides={"age": "embed"})
    fields = transformer.fit_transform(mixed_frame)
    assert isinstance(transformer.column_transformer_, ColumnTransformer)
    assert list(fields.columns) == list(mixed_frame.columns)
    assert transformer.get_feature_names_out().tolist() == list(mixed_frame.columns)
    assert transformer.feature_names_in_.tolist() == list(mixed_frame.columns)
    assert fields.index.equals(mixed_frame.index)
    assert fields["age"].dtype == np.float32
    assert all(isinstance(fields[c].dtype, pd.CategoricalDtype) for c in ["city", "visits"])
    # NaN in a bucketized column is its own bucket (code 0).
    assert fields["visits"].iloc[3] == 0


def test_field_transformer_is_idempotent_on_its_own_output(mixed_frame):
    for continuous in ["embed", "bucketize"]:
        fields = make_field_transformer(continuous=continuous).fit_transform(mixed_frame)
        again = make_field_transformer(continuous=continuous).fit_transform(fields)
        pd.testing.assert_frame_equal(again, fields)


def test_field_transformer_on_numpy_input():
    X = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0]])
    transformer = make_field_transformer(categorical_features=[0], min_frequency=1)
    fields = transformer.fit_transform(X)
    assert transformer.get_feature_names_out().tolist() == ["x0", "x1"]
    assert fields["x0"].tolist() == [3, 4, 5]
    assert fields["x1"].tolist()[1] == 0


def test_field_spec_gives_one_gather_index_and_value(mixed_frame):
    transformer = make_field_transformer(continuous="embed", min_frequency=1)
    fields = transformer.fit_transform(mixed_frame)
    spec = FieldSpec.from_encoded(fields)
    assert spec.kinds == ("coded", "coded", "coded", "embed", "embed", "coded")
    index, value = spec.to_arrays(fields)
    assert index.shape == value.shape == (7, 6)
    assert index.itemsize + value.itemsize == 8  # int32 + float32 per field and row
    # Every field's rows stay inside its own block of the shared table.
    for j, (offset, size) in enumerate(zip(spec.offsets, spec.sizes, strict=True)):
        assert np.all((index[:, j] >= offset) & (index[:, j] < offset + size))
    assert spec.table_rows == sum(spec.sizes)
    # Embedded: the scaled number as value; missing: the field's second row with value 1.
    visits = fields["visits"].to_numpy()
    assert index[3, 3] == spec.offsets[3] + 1 and value[3, 3] == 1.0
    np.testing.assert_array_equal(value[[0, 1, 2], 3], visits[[0, 1, 2]])
    assert np.all(value[:, [0, 1, 2, 5]] == 1.0)


def test_field_spec_maps_out_of_range_codes_to_a_spare_row():
    fields = pd.DataFrame({"c": pd.Categorical.from_codes([0, 1, 2], categories=range(3))})
    spec = FieldSpec.from_encoded(fields)
    wider = pd.DataFrame({"c": pd.Categorical.from_codes([0, 5, -1], categories=range(6))})
    index, _ = spec.to_arrays(wider)
    assert index[:, 0].tolist() == [0, 3, 3]


# --------------------------------------------------------------------------------------------
# The transformer's own parameters: grid search, clone, set_params, set_output
# --------------------------------------------------------------------------------------------
ADULT_CATEGORICAL = ["workclass", "education", "marital_status", "occupation", "relationship",
                     "race", "sex", "native_country"]


def test_grid_search_reaches_the_field_parameters(adult_small):
    X, y, _, _ = adult_small
    pipe = make_pipeline(make_field_transformer(),
                         HistGradientBoostingClassifier(categorical_features="from_dtype",
                                                        max_iter=10))
    grid = [
        {"fieldtransformer__continuous": ["embed", "bucketize"],
         "fieldtransformer__n_bins": [8, 16], "fieldtransformer__min_frequency": [1, 3]},
        {"fieldtransformer__categorical_features": ["from_dtype",
                                                    [*ADULT_CATEGORICAL, "education_num"]]},
    ]
    # One OpenMP thread for the boosting: on a busy machine its spinning threads make the
    # search a hundred times slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        search = GridSearchCV(pipe, grid, cv=2, scoring="roc_auc").fit(X.iloc[:2000],
                                                                       y.iloc[:2000])
    assert len(search.cv_results_["params"]) == 8 + 2
    best = search.best_estimator_[0]
    for key, value in search.best_params_.items():
        assert best.get_params()[key.removeprefix("fieldtransformer__")] == value
    # The values reach the encoders of the refitted best pipeline.
    encoders = best.column_transformer_.named_transformers_
    assert encoders["bucketize"].n_bins == best.n_bins
    assert encoders["categorical"].min_frequency == best.min_frequency
    few = make_field_transformer(n_bins=8).fit(X.iloc[:2000])
    bucketizer = few.column_transformer_.named_transformers_["bucketize"]
    assert bucketizer.n_bins == 8 and max(bucketizer.n_codes_) <= 8 + 1


def test_clone_keeps_the_parameters_and_the_pandas_output(mixed_frame):
    transformer = clone(make_field_transformer(continuous="embed", n_bins=8, min_frequency=1))
    params = transformer.get_params()
    assert params == {"categorical_features": "from_dtype", "continuous": "embed",
                      "continuous_overrides": None, "min_frequency": 1, "max_categories": None,
                      "n_bins": 8, "multi_valued_features": None,
                      "multi_valued_pooling": "mean", "max_levels_per_cell": "auto",
                      "target_statistics": None}
    fields = transformer.fit_transform(mixed_frame)
    assert isinstance(fields, pd.DataFrame) and fields["visits"].dtype == np.float32
    assert isinstance(fields["city"].dtype, pd.CategoricalDtype)


def test_set_params_changes_the_field_kinds_at_the_next_fit(mixed_frame):
    transformer = make_field_transformer(min_frequency=1).fit(mixed_frame)
    assert set(FieldSpec.from_encoded(transformer.transform(mixed_frame)).kinds) == {"coded"}
    transformer.set_params(continuous="embed", categorical_features=["city", "note"]).fit(
        mixed_frame.drop(columns=["plan", "active"]))
    fields = transformer.transform(mixed_frame.drop(columns=["plan", "active"]))
    assert FieldSpec.from_encoded(fields).kinds == ("coded", "embed", "embed", "coded")


def test_set_output_reaches_the_fitted_encoders_and_survives_clone(mixed_frame):
    transformer = make_field_transformer(continuous="embed", min_frequency=1).fit(mixed_frame)
    frame = transformer.transform(mixed_frame)
    # "default" is the transformer's own container, the frame: an array would lose the
    # field sizes (the category dtypes) that a downstream estimator reads
    default = transformer.set_output(transform="default").transform(mixed_frame)
    pd.testing.assert_frame_equal(default, frame)
    pd.testing.assert_frame_equal(clone(transformer).fit_transform(mixed_frame), frame)
    pipe = make_pipeline(make_field_transformer(continuous="embed", min_frequency=1))
    pd.testing.assert_frame_equal(clone(pipe.set_output(transform="default"))
                                  .fit_transform(mixed_frame), frame)
    pd.testing.assert_frame_equal(FieldTransformer(continuous="embed", min_frequency=1)
                                  .fit_transform(mixed_frame), frame)
    with pytest.raises(ValueError, match="cannot be output as a polars DataFrame"):
        transformer.set_output(transform="polars").transform(mixed_frame)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("continuous", "log"),
        ("min_frequency", 0),
        ("min_frequency", 1.5),
        ("max_categories", 0),
        ("n_bins", 1),
        ("n_bins", "many"),
        ("categorical_features", "all"),
        ("continuous_overrides", ["age"]),
    ],
)
def test_bad_parameter_values_raise_naming_the_parameter(mixed_frame, param, value):
    transformer = make_field_transformer(**{param: value})
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of FieldTransformer"):
        transformer.fit(mixed_frame)
    assert not hasattr(transformer, "column_transformer_")


def test_a_failed_fit_leaves_the_fitted_transformer_as_it_was(mixed_frame):
    transformer = make_field_transformer(min_frequency=1).fit(mixed_frame)
    before = transformer.transform(mixed_frame)
    dated = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=3), "x": [1, 2, 3]})
    with pytest.raises(TypeError, match="'when'"):
        transformer.fit(dated)
    assert transformer.feature_names_in_.tolist() == list(mixed_frame.columns)
    pd.testing.assert_frame_equal(transformer.transform(mixed_frame), before)


# --------------------------------------------------------------------------------------------
# Transformers saved by skautoint 0.1.0, when FieldTransformer was a ColumnTransformer
# --------------------------------------------------------------------------------------------
DATA = Path(__file__).parent / "data"
FORMAT1_FIELD_TRANSFORMERS = {
    "default": ("adult_field_transformer_format1.joblib", "adult_fields_format1.npz",
                dict(categorical_features="from_dtype", continuous="bucketize",
                     continuous_overrides=None, min_frequency=2, max_categories=None,
                     n_bins="auto")),
    "embed": ("adult_field_transformer_embed_format1.joblib", "adult_fields_embed_format1.npz",
              dict(categorical_features=[*ADULT_CATEGORICAL[:2], "education_num",
                                         *ADULT_CATEGORICAL[2:]],
                   continuous="embed", continuous_overrides={"age": "bucketize"},
                   min_frequency=5, max_categories=12, n_bins=8)),
}


def _saved_fields(path):
    """The frame that ``make_fields_format1.py`` saved as plain arrays."""
    saved = np.load(path)
    columns = {
        name: pd.Categorical.from_codes(saved["codes"][:, j],
                                        categories=pd.RangeIndex(saved["n_categories"][j]))
        if saved["coded"][j] else saved["values"][:, j]
        for j, name in enumerate(saved["columns"].tolist())
    }
    return pd.DataFrame(columns)


@pytest.mark.parametrize("name", FORMAT1_FIELD_TRANSFORMERS)
def test_a_field_transformer_saved_by_0_1_0_loads_with_its_parameters(adult, name):
    X = adult[0]
    model_file, fields_file, params = FORMAT1_FIELD_TRANSFORMERS[name]
    old = joblib.load(DATA / model_file)
    expected = _saved_fields(DATA / fields_file)
    # parameters added since 0.1.0 take their defaults
    assert isinstance(old, FieldTransformer)
    assert old.get_params() == {**FieldTransformer().get_params(), **params}
    assert isinstance(old.column_transformer_, ColumnTransformer)
    assert old.n_features_in_ == X.shape[1]
    assert old.feature_names_in_.tolist() == list(X.columns)
    assert old.get_feature_names_out().tolist() == list(expected.columns) == list(X.columns)
    pd.testing.assert_frame_equal(old.transform(X.iloc[:200]), expected, check_exact=True)
    # The recovered parameters are the ones it was made with: refitting reproduces it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_categories merges levels, with a warning
        refitted = clone(old).fit(X.iloc[:2000])
    pd.testing.assert_frame_equal(refitted.transform(X.iloc[:200]), expected, check_exact=True)
    # Saved again, it is saved in the new layout and loads as it was.
    again = pickle.loads(pickle.dumps(old))
    assert "transformers" not in vars(again) and again.get_params() == old.get_params()
    pd.testing.assert_frame_equal(again.transform(X.iloc[:200]), expected, check_exact=True)
