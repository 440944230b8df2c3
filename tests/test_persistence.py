"""Nothing lost: bit-identical round trips in a fresh process, versions, damaged files."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import skautoint
from skautoint import AutoIntClassifier, make_field_transformer, persistence
from skautoint import _base as base_module
from skautoint.exceptions import InconsistentVersionWarning

SMALL = dict(max_epochs=2, random_state=0)

CONFIGS = {
    "default": lambda: AutoIntClassifier(**SMALL),
    "paper-embed-scaled-layernorm": lambda: AutoIntClassifier(
        continuous="embed", attention_scaling=True, layer_norm="after_activation", **SMALL),
    "linear-term-no-residual": lambda: AutoIntClassifier(linear_term=True, residual="none",
                                                         **SMALL),
    "autoint-plus": lambda: AutoIntClassifier(mlp_hidden_units=(32, 16), dropout=0.1, **SMALL),
    "multiclass": lambda: AutoIntClassifier(**SMALL),
    "pipeline": lambda: make_pipeline(make_field_transformer(), AutoIntClassifier(**SMALL)),
    "grid-search": lambda: GridSearchCV(AutoIntClassifier(**SMALL), {"n_layers": [1, 2]}, cv=2),
}


@pytest.fixture(scope="module")
def fitted_models(adult_small):
    X, y, _, _ = adult_small
    models = {}
    for name, build in CONFIGS.items():
        if name == "multiclass":  # six classes: the relationship column as target
            models[name] = build().fit(X.drop(columns="relationship"), X["relationship"])
        else:
            models[name] = build().fit(X, y)
    return models


def _test_frame(name, X_test):
    return X_test.drop(columns="relationship") if name == "multiclass" else X_test


def test_every_configuration_round_trips_bit_identically_in_a_fresh_process(
        fitted_models, adult_small, tmp_path):
    X_test = adult_small[2]
    for name, model in fitted_models.items():
        X = _test_frame(name, X_test)
        X.to_pickle(tmp_path / f"{name}.X.pkl")
        np.save(tmp_path / f"{name}.expected.npy", model.predict_proba(X))
        joblib.dump(model, tmp_path / f"{name}.joblib")
        (tmp_path / f"{name}.pickle").write_bytes(pickle.dumps(model))
        persistence.save(model, tmp_path / f"{name}.skautoint")
    script = textwrap.dedent(f"""
        import pickle, pathlib, joblib, numpy as np, pandas as pd
        from skautoint import persistence
        folder = pathlib.Path({str(tmp_path)!r})
        loaders = {{"joblib": joblib.load, "pickle": lambda p: pickle.loads(p.read_bytes()),
                   "skautoint": persistence.load}}
        for name in {list(CONFIGS)!r}:
            X = pd.read_pickle(folder / f"{{name}}.X.pkl")
            expected = np.load(folder / f"{{name}}.expected.npy")
            for suffix, load in loaders.items():
                got = load(folder / f"{{name}}.{{suffix}}").predict_proba(X)
                print(name, suffix, "same" if np.array_equal(got, expected) else "DIFFERENT")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert len([line for line in lines if line.endswith(" same")]) == 3 * len(CONFIGS), lines


def test_multiclass_model_knows_its_six_classes(fitted_models):
    assert len(fitted_models["multiclass"].classes_) == 6


def test_state_holds_the_version_and_only_plain_arrays(fitted_models):
    state = fitted_models["default"].__getstate__()
    assert state["_skautoint_version"] == skautoint.__version__
    assert state["_skautoint_state_format"] == base_module.STATE_FORMAT
    assert all(isinstance(v, np.ndarray) for v in state["module_state_"].values())


def _dumped_with(monkeypatch, model, *, version=None, state_format=None):
    with monkeypatch.context() as patch:
        if version is not None:
            patch.setattr(base_module, "__version__", version)
        if state_format is not None:
            patch.setattr(base_module, "STATE_FORMAT", state_format)
        return pickle.dumps(model)


def test_model_from_an_older_version_loads_silently(fitted_models, monkeypatch, adult_small):
    model = fitted_models["default"]
    blob = _dumped_with(monkeypatch, model, version="0.0.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(blob)
    X_test = adult_small[2]
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))


def test_model_saved_before_field_pair_bias_existed_loads_as_it_was_built(adult_small):
    # A state of format 2 names neither the parameter nor the network's switch: it is read
    # as "none" (what it built), not as today's default, and it trains on as it was built.
    X, y, X_test, _ = adult_small
    model = AutoIntClassifier(field_pair_bias="none", max_epochs=1, random_state=0)
    model.fit(X[:500], y[:500])
    for fitted in (True, False):
        state = (model if fitted else clone(model)).__getstate__()
        assert state["_skautoint_state_format"] == 3
        state["_skautoint_state_format"] = 2
        del state["field_pair_bias"]
        if fitted:
            state["module_params_"] = dict(state["module_params_"])  # not the model's own
            del state["module_params_"]["field_pair_bias"]
        loaded = AutoIntClassifier.__new__(AutoIntClassifier)
        loaded.__setstate__(state)
        assert loaded.field_pair_bias == "none"
    assert loaded.get_params() == clone(model).get_params()
    loaded = AutoIntClassifier.__new__(AutoIntClassifier)
    state = model.__getstate__()
    state["_skautoint_state_format"] = 2
    state["module_params_"] = {k: v for k, v in state["module_params_"].items()
                               if k != "field_pair_bias"}
    del state["field_pair_bias"]
    loaded.__setstate__(state)
    assert loaded.module_params_["field_pair_bias"] == "none"
    assert all(layer.pair_bias is None for layer in loaded.module_.layers)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    loaded.set_params(warm_start=True).fit(X[:500], y[:500])
    assert loaded.module_params_["field_pair_bias"] == "none"
    assert all(layer.pair_bias is None for layer in loaded.module_.layers)


def test_model_from_a_newer_version_warns(fitted_models, monkeypatch):
    blob = _dumped_with(monkeypatch, fitted_models["default"], version="99.0.0")
    with pytest.warns(InconsistentVersionWarning, match="saved by skautoint 99.0.0"):
        pickle.loads(blob)


def test_unreadable_state_format_fails_with_a_version_message(fitted_models, monkeypatch,
                                                              tmp_path):
    blob = _dumped_with(monkeypatch, fitted_models["default"], version="3.0.0",
                        state_format=base_module.STATE_FORMAT + 1)
    with pytest.raises(ValueError, match=r"saved by skautoint 3.0.0 in state format \d+, which "
                                         r"skautoint .* cannot read"):
        pickle.loads(blob)
    # a model file passes the message on as it is (not as "not readable")
    path = tmp_path / "newer.skautoint"
    with monkeypatch.context() as patch:
        patch.setattr(base_module, "STATE_FORMAT", base_module.STATE_FORMAT + 1)
        persistence.save(fitted_models["default"], path)
    with pytest.raises(ValueError, match=r"^[^(]*in state format \d+, which skautoint"):
        persistence.load(path)


def test_corrupted_weights_in_a_pickle_are_detected(fitted_models):
    model = fitted_models["default"]
    blob = bytearray(pickle.dumps(model))
    weights = model.__getstate__()["module_state_"]["embedding.weight"].tobytes()
    where = bytes(blob).find(weights[:256])
    assert where > 0
    blob[where + 100] ^= 0xFF
    with pytest.raises(ValueError, match="do not match their checksum: the file is corrupted"):
        pickle.loads(bytes(blob))


def test_truncated_joblib_file_never_loads(fitted_models, tmp_path):
    # joblib's own errors are terse (persistence.load names the problem); none loads a model.
    path = tmp_path / "model.joblib"
    joblib.dump(fitted_models["default"], path)
    data = path.read_bytes()
    for cut in np.linspace(1, len(data) - 1, 9).astype(int):
        path.write_bytes(data[:cut])
        with pytest.raises((EOFError, IndexError, ValueError, pickle.UnpicklingError)):
            joblib.load(path)


def test_persistence_names_truncation_and_corruption(fitted_models, tmp_path):
    path = persistence.save(fitted_models["pipeline"], tmp_path / "model.skautoint")
    data = path.read_bytes()
    damaged = tmp_path / "damaged.skautoint"
    damaged.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="is truncated: its model data holds"):
        persistence.load(damaged)
    flipped = bytearray(data)
    flipped[-500] ^= 0x01
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="is corrupted"):
        persistence.load(damaged)
    joblib.dump(fitted_models["pipeline"], damaged)
    with pytest.raises(ValueError, match="not a model file written by skautoint"):
        persistence.load(damaged)
    damaged.write_bytes(data.replace(b'"format": 1', b'"format": 7', 1))
    with pytest.raises(ValueError, match=r"file format 7; skautoint .* reads format 1"):
        persistence.load(damaged)


def test_failed_save_keeps_the_previous_file(fitted_models, tmp_path):
    path = persistence.save(fitted_models["default"], tmp_path / "model.skautoint")
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        persistence.save(lambda: None, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.skautoint"]


@pytest.mark.parametrize("name", ["default", "multiclass", "pipeline", "autoint-plus"])
def test_skops_file_holds_only_skautoint_types_and_arrays(fitted_models, adult_small, name):
    skops_io = pytest.importorskip("skops.io")
    model = fitted_models[name]
    data = skops_io.dumps(model)
    untrusted = skops_io.get_untrusted_types(data=data)
    assert set(untrusted) <= set(persistence.SKOPS_TRUSTED_TYPES)
    assert "skautoint._estimators.AutoIntClassifier" in untrusted
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.loads(data)
    loaded = skops_io.loads(data, trusted=persistence.SKOPS_TRUSTED_TYPES)
    X_test = _test_frame(name, adult_small[2])
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
