"""Frames of other libraries (polars, pyarrow) mean what the equivalent pandas frame means."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skautoint import AutoIntClassifier, AutoIntRegressor, make_field_transformer

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

QUICK = dict(max_epochs=3, random_state=0)
LIBRARIES = {
    "polars": (pl.from_pandas, pl.Series),
    "pyarrow": (lambda frame: pa.Table.from_pandas(frame, preserve_index=False), pa.array),
    "pandas on pyarrow": (lambda frame: frame.convert_dtypes(dtype_backend="pyarrow"),
                          lambda values: pd.Series(values).convert_dtypes(
                              dtype_backend="pyarrow")),
}


@pytest.fixture(scope="module")
def adult_part(adult_small):
    X, y, X_test, _ = adult_small
    X = X.reset_index(drop=True).assign(workclass=lambda d: d["workclass"].astype("category"))
    return X.iloc[:1500], y.iloc[:1500].reset_index(drop=True), X_test.iloc[:300].reset_index(
        drop=True).assign(workclass=lambda d: d["workclass"].astype(X["workclass"].dtype))


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_frame_of_another_library_trains_the_pandas_model(adult_part, library):
    frame, series = LIBRARIES[library]
    X, y, X_test = adult_part
    pandas_model = AutoIntClassifier(**QUICK).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = AutoIntClassifier(**QUICK).fit(frame(X), series(y.to_numpy()))
        proba = model.predict_proba(frame(X_test))
        across = pandas_model.predict_proba(frame(X_test))
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.field_spec_ == pandas_model.field_spec_  # the same kinds, names and sizes
    expected = pandas_model.predict_proba(X_test)
    assert np.abs(proba - expected).max() < 1e-6
    assert np.abs(across - expected).max() < 1e-6
    attention = model.attention_weights(frame(X_test.iloc[:20]))
    expected = pandas_model.attention_weights(X_test.iloc[:20])
    np.testing.assert_allclose(attention.mean, expected.mean, atol=1e-6)
    assert list(attention.field_names) == list(X.columns)  # the maps keep their labels


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_partial_fit_and_the_regressor_read_other_frames(adult_part, library):
    frame, series = LIBRARIES[library]
    X, _, X_test = adult_part
    hours, X = X["hours_per_week"].astype(float), X.drop(columns="hours_per_week")
    X_test = X_test.drop(columns="hours_per_week")
    chunks = np.array_split(np.arange(len(X)), 3)
    pandas_model, model = AutoIntRegressor(**QUICK), AutoIntRegressor(**QUICK)
    for rows in chunks:
        pandas_model.partial_fit(X.iloc[rows], hours.iloc[rows])
        model.partial_fit(frame(X.iloc[rows]), series(hours.iloc[rows].to_numpy()))
    np.testing.assert_allclose(model.predict(frame(X_test)), pandas_model.predict(X_test),
                               atol=1e-6)


def test_the_field_transformer_encodes_other_frames_as_pandas(adult_part):
    X, _, X_test = adult_part
    for frame, _ in LIBRARIES.values():  # polars, pyarrow, pandas with pyarrow dtypes
        encoding = make_field_transformer().fit(frame(X))
        pd.testing.assert_frame_equal(encoding.transform(frame(X_test)),
                                      make_field_transformer().fit(X).transform(X_test))


def test_a_parquet_file_read_with_polars_trains_as_read_with_pandas(adult_part, tmp_path):
    X, y, X_test = adult_part
    X.assign(income=y).to_parquet(tmp_path / "adult.parquet")
    pandas_frame = pd.read_parquet(tmp_path / "adult.parquet")
    polars_frame = pl.read_parquet(tmp_path / "adult.parquet")
    models = [AutoIntClassifier(**QUICK).fit(f.drop(columns="income") if isinstance(f, pd.DataFrame)
                                             else f.drop("income"), f["income"])
              for f in (pandas_frame, polars_frame)]
    np.testing.assert_allclose(*(m.predict_proba(X_test) for m in models), atol=1e-6)


def test_a_lazy_frame_is_refused_clearly(adult_part):
    X, y, _ = adult_part
    with pytest.raises(TypeError, match=r"X is a lazy frame \(polars.*Collect it first"):
        AutoIntClassifier(**QUICK).fit(pl.from_pandas(X).lazy(), y)


def test_polars_output_of_coded_fields_is_refused_and_the_estimator_unaffected(adult_part):
    from sklearn import config_context

    from skautoint import FieldTransformer

    X, y, X_test = adult_part
    with pytest.raises(ValueError, match="cannot be output as a polars DataFrame"):
        make_field_transformer().set_output(transform="polars").fit(X)
    expected = AutoIntClassifier(**QUICK).fit(X, y).predict_proba(X_test)
    with config_context(transform_output="polars"):
        with pytest.raises(ValueError, match="cannot be output as a polars DataFrame"):
            FieldTransformer().fit_transform(X)
        # the estimator's own encoding is pandas, whatever the global setting
        model = AutoIntClassifier(**QUICK).fit(pl.from_pandas(X), y)
    np.testing.assert_allclose(model.predict_proba(X_test), expected, atol=1e-6)


@pytest.mark.parametrize("container", ["default", "pandas", "polars"])
def test_every_output_container_is_read_as_the_fields_or_refused(adult_part, container):
    from sklearn.pipeline import make_pipeline

    from skautoint import FieldTransformer

    X, y, X_test = adult_part
    expected = make_pipeline(make_field_transformer(), AutoIntClassifier(**QUICK)).fit(X, y)
    pipe = make_pipeline(FieldTransformer().set_output(transform=container),
                         AutoIntClassifier(**QUICK))
    if container == "polars":
        with pytest.raises(ValueError, match="cannot be output as a polars DataFrame"):
            pipe.fit(X, y)
        return
    pipe.fit(X, y)
    assert pipe[-1].field_spec_ == expected[-1].field_spec_  # the codes read as codes
    np.testing.assert_array_equal(pipe.predict_proba(X_test), expected.predict_proba(X_test))


def test_the_global_polars_setting_at_transform_time_is_refused_too(adult_part):
    from sklearn import config_context
    from sklearn.pipeline import make_pipeline

    from skautoint import FieldTransformer

    X, y, X_test = adult_part
    encoding = FieldTransformer().fit(X)
    pipe = make_pipeline(FieldTransformer(), AutoIntClassifier(**QUICK)).fit(X, y)
    with config_context(transform_output="polars"):
        for call in (lambda: encoding.transform(X_test), lambda: pipe.predict_proba(X_test)):
            with pytest.raises(ValueError, match="cannot be output as a polars DataFrame"):
                call()
    assert isinstance(encoding.transform(X_test), pd.DataFrame)  # and back to its own


def test_arrow_types_mean_what_their_pandas_equivalents_mean(adult_part):
    import datetime
    import decimal

    X, y, _ = adult_part
    small = X[["age", "workclass", "hours_per_week"]]
    when = [datetime.date(2020, 1, 1 + i % 28) for i in range(len(small))]
    for table in (pa.Table.from_pandas(small.assign(day=when), preserve_index=False),
                  pl.from_pandas(small).with_columns(day=pl.Series(when)),
                  pl.from_pandas(small).with_columns(
                      gap=pl.duration(days=pl.col("age")))):
        with pytest.raises(TypeError, match=r"Column '(day|gap)' has dtype .*does not encode"):
            AutoIntClassifier(**QUICK).fit(table, y)
    as_float = AutoIntClassifier(**QUICK).fit(small, y)
    prices = [decimal.Decimal(int(v)) for v in small["hours_per_week"]]
    decimals = pa.Table.from_pandas(small.assign(hours_per_week=prices), preserve_index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = AutoIntClassifier(**QUICK).fit(decimals, y)
    assert model.field_spec_ == as_float.field_spec_  # a decimal column is a number
    # a category column read from Parquet with pyarrow dtypes, and a record batch
    arrow = small.astype({"workclass": "category"}).pipe(pa.Table.from_pandas,
                                                         preserve_index=False)
    dictionary = arrow.to_pandas(types_mapper=pd.ArrowDtype)
    assert AutoIntClassifier(**QUICK).fit(dictionary, y).field_spec_ == as_float.field_spec_
    batch = pa.RecordBatch.from_pandas(small, preserve_index=False)
    assert AutoIntClassifier(**QUICK).fit(batch, y).field_spec_ == as_float.field_spec_
    twice = pa.table([small["age"], small["age"]], names=["age", "age"])
    with pytest.raises(ValueError, match="X has duplicated column names"):
        AutoIntClassifier(**QUICK).fit(twice, y)


def test_an_attention_map_of_one_row_of_another_frame_warns_nothing(adult_part):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from skautoint.inspection import AttentionMapDisplay

    X, y, X_test = adult_part
    model = AutoIntClassifier(**QUICK).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shown = AttentionMapDisplay.from_estimator(model, pl.from_pandas(X_test), row=3)
    expected = AttentionMapDisplay.from_estimator(model, X_test, row=3)
    np.testing.assert_allclose(shown.attention_map, expected.attention_map, atol=1e-6)
