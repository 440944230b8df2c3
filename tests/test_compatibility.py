"""Models saved by skautoint 0.1.0 (state format 1, before the estimator family) load and
predict as they did (files in tests/data, made by tests/data/make_format1_models.py)."""

import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from skautoint import AutoIntClassifier, persistence
from skautoint.datasets import load_adult

DATA = Path(__file__).parent / "data"
#: The saved predictions are the float32 network's on the CPU that made them; another CPU's
#: kernels (AVX2, AVX-512, AMX) sum in another order, about 2e-6 apart on this data.
SAME_MODEL = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def expected():
    X_test, _ = load_adult(subset="test", return_X_y=True)
    return X_test.iloc[:200], np.load(DATA / "format1_expected.npz")


@pytest.mark.parametrize("load", [joblib.load, persistence.load], ids=["joblib", "persistence"])
def test_format1_binary_classifier_predicts_as_before(expected, load):
    X_test, saved = expected
    path = DATA / ("adult_binary_format1.joblib" if load is joblib.load
                   else "adult_binary_format1.skautoint")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an older model loads silently
        model = load(path)
    assert isinstance(model, AutoIntClassifier)
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba, saved["binary_proba"], **SAME_MODEL)
    np.testing.assert_array_equal(model.predict(X_test),
                                  model.classes_[saved["binary_proba"].argmax(axis=1)])


def test_format1_multiclass_with_old_switches_predicts_as_before(expected):
    X_test, saved = expected
    model = joblib.load(DATA / "adult_race_multiclass_format1.joblib")
    # saved with layer_norm=True, residual=False: the switches that build the same layers
    assert (model.layer_norm, model.residual) == ("after_activation", "none")
    assert model.module_params_["layer_norm"] == "after_activation"
    np.testing.assert_allclose(model.predict_proba(X_test.drop(columns="race")),
                               saved["multi_proba"], **SAME_MODEL)


def test_a_loaded_format1_model_saves_in_the_current_format_and_trains_on(expected):
    X_test, saved = expected
    model = pickle.loads(pickle.dumps(joblib.load(DATA / "adult_binary_format1.joblib")))
    np.testing.assert_allclose(model.predict_proba(X_test), saved["binary_proba"],
                               **SAME_MODEL)
    X, y = load_adult(return_X_y=True)
    model.set_params(warm_start=True, max_epochs=1).fit(X[:1000], y[:1000])
    assert model.n_iter_ == 3
    assert not np.allclose(model.predict_proba(X_test), saved["binary_proba"])


def test_format1_skops_file_loads_with_the_trusted_types(expected):
    skops_io = pytest.importorskip("skops.io")
    X_test, saved = expected
    path = DATA / "adult_binary_format1.skops"
    untrusted = skops_io.get_untrusted_types(file=path)
    assert "skautoint._fields.FieldTransformer" in untrusted  # where 0.1.0 kept it
    model = skops_io.load(path, trusted=persistence.SKOPS_TRUSTED_TYPES)
    np.testing.assert_allclose(model.predict_proba(X_test), saved["binary_proba"],
                               **SAME_MODEL)


def test_the_spellings_of_0_1_0_still_work_with_a_future_warning(adult_small):
    from sklearn.pipeline import make_pipeline

    from skautoint import make_field_transformer

    X, y, X_test, _ = adult_small
    old = AutoIntClassifier(residual=False, layer_norm=True, max_epochs=1, random_state=0)
    with pytest.warns(FutureWarning) as record:
        old.fit(X, y)
    assert sorted(str(w.message).split(" is deprecated")[0] for w in record) == [
        "layer_norm=True", "residual=False"]
    new = AutoIntClassifier(residual="none", layer_norm="after_activation", max_epochs=1,
                            random_state=0).fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X_test), new.predict_proba(X_test))
    pipeline = make_pipeline(make_field_transformer(), AutoIntClassifier())
    with pytest.warns(FutureWarning, match="'bucketize__n_bins' is deprecated"):
        pipeline.set_params(fieldtransformer__bucketize__n_bins=8)
    assert pipeline.get_params()["fieldtransformer__n_bins"] == 8
