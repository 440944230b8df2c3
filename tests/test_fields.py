"""Columns to fields: kind detection, reserved codes, scaling, bucketing and FieldSpec."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer

from skautoint import make_field_transformer
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
        ({"continuous": "log"}, "`continuous`"),
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


def test_field_transformer_is_a_column_transformer_in_input_order(mixed_frame):
    transformer = make_field_transformer(min_frequency=1, continuous_overrides={"age": "embed"})
    assert isinstance(transformer, ColumnTransformer)
    fields = transformer.fit_transform(mixed_frame)
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
    assert spec.n_rows == sum(spec.sizes)
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
