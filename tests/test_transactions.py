"""A failed fit is a fit that never happened; the caller's torch context and other threads do
not reach into a fit; odd-but-legal inputs are handled or refused by name."""

import json
import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skautoint import AutoIntClassifier, AutoIntRegressor, _base, _training, persistence
from skautoint._network import AutoIntNet
from skautoint.exceptions import TrainingInterruptedWarning
from skautoint.out_of_core import iter_parquet_chunks, partial_fit_parquet, sample_parquet

QUICK = dict(max_epochs=3, random_state=0)

#: The rows of docs/bad_input.rst's "Contexts, threads and extremes" table and their tests.
DOCUMENTED = {
    "failure-anywhere-in-fit": "test_a_failure_anywhere_leaves_the_estimator_unfitted_or_as_it_was",
    "refit-on-bad-data": "test_a_refit_on_bad_data_keeps_the_previous_classes_and_model",
    "torch-no-grad": "test_fit_and_predict_ignore_the_callers_torch_context",
    "torch-defaults": "test_fit_ignores_the_callers_torch_defaults",
    "onnx-export-context": "test_to_onnx_ignores_the_callers_torch_context",
    "threads": "test_fits_in_threads_at_once_equal_the_same_fits_alone",
    "one-estimator-in-threads": "test_partial_fits_of_one_estimator_in_threads_lose_no_update",
    "weight-scale": "test_the_model_is_invariant_to_the_scale_of_the_weights",
    "dwarfing-weight": "test_one_dwarfing_training_weight_keeps_the_validation_loss_finite",
    "target-scale": "test_the_regressor_is_invariant_to_the_scale_of_the_target",
    "subnormal-embedded-column": "test_a_subnormal_column_is_refused_by_name_when_embedded",
    "validation-fraction-too-large":
        "test_a_validation_fraction_that_leaves_no_training_rows_names_itself",
    "early-stopping-off-with-x-val": "test_early_stopping_false_with_validation_rows_is_refused",
    "x-val-unusable": "test_unusable_validation_rows_name_x_val",
    "empty-parquet": "test_empty_parquet_data_is_refused_clearly",
    "damaged-header": "test_a_damaged_header_is_named_field_by_field",
    "narrow-integer-parameters": "test_narrow_numpy_integers_build_the_same_model_as_python_ints",
    "class-weight-invalid": "test_a_class_weight_that_is_no_weight_is_refused_by_name",
    "parquet-arguments": "test_parquet_arguments_and_files_are_checked_by_name",
    "unreadable-payload": "test_a_payload_that_is_no_model_is_refused_as_unreadable",
    "odd-columns-at-predict": "test_predict_and_x_val_refuse_the_columns_fit_refuses",
    "y-val-unusable": "test_unusable_validation_targets_name_y_val",
    "missing-pandas-labels": "test_missing_labels_of_pandas_dtypes_are_counted",
    "classes-not-a-list": "test_classes_that_are_no_list_of_labels_name_classes",
    "warm-parameter-changed":
        "test_a_warm_call_refuses_parameters_the_built_network_cannot_take",
    "warm-encoding-changed":
        "test_a_warm_call_compares_parameters_by_value_and_refuses_another_encoding",
    "partial-fit-auto-steps": "test_partial_fit_step_settings_return_to_auto",
    "parquet-storage-differences": "test_parquet_files_that_differ_only_in_storage_train",
    "fitted-field-transformer":
        "test_a_fitted_field_transformer_is_copied_and_ignored_parameters_warned",
    "parameters-acting-on-nothing": "test_parameters_that_act_on_nothing_are_named",
    "predict-during-refit":
        "test_predicting_while_another_thread_refits_sees_the_old_or_the_new_model",
}


def _small(adult_small, n=1500):
    X, y, X_test, _ = adult_small
    return X.iloc[:n], y.iloc[:n], X_test.iloc[:300]


def _weights(model):
    return {k: v.detach().clone() for k, v in model.module_.state_dict().items()}


def _snapshot(model, X_test):
    """What a caller can observe of a fitted model: attributes, weights, predictions."""
    attributes = {k: v for k, v in vars(model).items() if k not in ("module_", "_optimizer")}
    return pickle.dumps(attributes), _weights(model), model.predict_proba(X_test)


def _assert_same(model, before, X_test):
    attributes, weights, proba = before
    now = _snapshot(model, X_test)
    assert now[0] == attributes
    assert now[1].keys() == weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(now[1][name], tensor), name
    np.testing.assert_array_equal(now[2], proba)


# ------------------------------------------------------------------ injected failures
class Injected(Exception):
    """The failure a test plants."""


#: Where a failure is planted: (module, attribute) of a function fit calls.
_POINTS = {
    "encoding": (_base, "encode_fields"),
    "network build": (_training, "_new_network"),
    "weight copy": (_training, "_copy_of"),
    "epoch": (_training, "_run_epoch"),
    "validation": (_training, "_evaluate"),
}


def _plant(monkeypatch, point, call, exception):
    """Make the ``call``-th call of ``point`` raise ``exception``."""
    module, name = _POINTS[point]
    real, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise exception
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(point=st.sampled_from(sorted(_POINTS)), call=st.integers(1, 3),
       exception=st.sampled_from([Injected, MemoryError, KeyboardInterrupt]),
       before=st.sampled_from(["unfitted", "fitted", "warm"]),
       method=st.sampled_from(["fit", "partial_fit"]))
def test_a_failure_anywhere_leaves_the_estimator_unfitted_or_as_it_was(
        adult_small, monkeypatch, point, call, exception, before, method):
    X, y, X_test = _small(adult_small, 600)
    model = AutoIntClassifier(warm_start=before == "warm", **QUICK)
    if before != "unfitted":
        model.fit(X, y)
        snapshot = _snapshot(model, X_test)
    with monkeypatch.context() as patch:
        _plant(patch, point, call, exception)
        first_partial_fit = method == "partial_fit" and before == "unfitted"
        labels = {"classes": np.unique(y)} if first_partial_fit else {}
        try:
            with warnings.catch_warnings():  # Ctrl-C in an epoch is handled, with a warning
                warnings.simplefilter("ignore", TrainingInterruptedWarning)
                getattr(model, method)(X, y, **labels)
        except (Injected, MemoryError, KeyboardInterrupt):
            failed = True
        else:
            failed = False
    if not failed:  # the planted call was never reached, or Ctrl-C in an epoch (handled)
        check_is_fitted(model)
        assert np.isfinite(model.predict_proba(X_test)).all()
        return
    if before == "unfitted":
        assert not model.__sklearn_is_fitted__()
        assert set(vars(model)) == set(AutoIntClassifier(**QUICK).get_params())
        with pytest.raises(NotFittedError):
            model.predict(X_test)
    else:
        _assert_same(model, snapshot, X_test)


def test_a_refit_on_bad_data_keeps_the_previous_classes_and_model(adult_small):
    X, y, X_test = _small(adult_small)
    model = AutoIntClassifier(**QUICK).fit(X, y)
    snapshot = _snapshot(model, X_test)
    bad = X.copy()
    bad["age"] = bad["age"].astype(float)
    bad.iloc[5, bad.columns.get_loc("age")] = np.inf
    three_classes = np.where(np.arange(len(y)) % 3 == 0, "other", y)
    with pytest.raises(ValueError, match="Column 'age' contains infinity"):
        model.fit(bad, three_classes)
    _assert_same(model, snapshot, X_test)
    assert model.classes_.tolist() == sorted(set(y))


def test_a_failed_first_fit_leaves_an_estimator_that_says_it_is_not_fitted(adult_small):
    X, y, X_test = _small(adult_small)
    model = AutoIntClassifier(**QUICK)
    with pytest.raises(ValueError, match="needs samples of at least 2 classes"):
        model.fit(X, np.zeros(len(y)))
    assert not model.__sklearn_is_fitted__()
    with pytest.raises(NotFittedError):
        model.predict_proba(X_test)


def test_a_failed_warm_fit_keeps_the_optimizer_state(adult_small, monkeypatch):
    X, y, X_test = _small(adult_small)
    model = AutoIntClassifier(warm_start=True, dropout=0.1, **QUICK).fit(X, y)
    twin = pickle.loads(pickle.dumps(model))  # pickling drops the optimizer: copy it
    twin.module_, twin._optimizer = _training._copy_of(model.module_, model._optimizer)
    with monkeypatch.context() as patch:
        _plant(patch, "epoch", 2, Injected)
        with pytest.raises(Injected):
            model.fit(X, y)
    # the failed call changed nothing: continuing gives what the twin gives
    np.testing.assert_array_equal(model.fit(X, y).predict_proba(X_test),
                                  twin.fit(X, y).predict_proba(X_test))


def test_partial_fit_parquet_that_fails_at_a_chunk_puts_the_estimator_back(adult_small,
                                                                            tmp_path,
                                                                            monkeypatch):
    X, y, _ = _small(adult_small, 1200)
    frame = X.assign(income=y.to_numpy())
    frame.iloc[:600].to_parquet(tmp_path / "part-0.parquet")
    frame.iloc[600:].to_parquet(tmp_path / "part-1.parquet")
    model = AutoIntClassifier(**QUICK)
    with monkeypatch.context() as patch:
        _plant(patch, "epoch", 2, Injected)  # the second chunk
        with pytest.raises(Injected):
            partial_fit_parquet(model, tmp_path, target="income", classes=np.unique(y),
                                chunk_rows=600)
    assert model.field_transformer is None
    assert not model.__sklearn_is_fitted__()
    partial_fit_parquet(model, tmp_path, target="income", classes=np.unique(y), chunk_rows=600)
    assert model.n_iter_ == 2


# ------------------------------------------------------------------ the caller's torch context
def _contexts():
    return {
        "no_grad": torch.no_grad,
        "inference_mode": torch.inference_mode,
        "grad disabled": lambda: torch.set_grad_enabled(False),
        "autocast bf16": lambda: torch.autocast("cpu", dtype=torch.bfloat16),
    }


@pytest.mark.parametrize("context", sorted(_contexts()))
def test_fit_and_predict_ignore_the_callers_torch_context(adult_small, context):
    X, y, X_test = _small(adult_small)
    plain = AutoIntClassifier(dropout=0.1, **QUICK).fit(X, y)
    with _contexts()[context]():
        model = AutoIntClassifier(dropout=0.1, **QUICK).fit(X, y)
        inside = model.predict_proba(X_test)
        warm = pickle.loads(pickle.dumps(model)).set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(inside, plain.predict_proba(X_test))
    np.testing.assert_array_equal(model.predict_proba(X_test), inside)
    assert np.isfinite(warm.predict_proba(X_test)).all()
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("context", ["no_grad", "inference_mode", "autocast bf16"])
def test_to_onnx_ignores_the_callers_torch_context(adult_small, context):
    onnxruntime = pytest.importorskip("onnxruntime")
    from skautoint.serving import onnx_inputs, to_onnx

    X, y, X_test = _small(adult_small, n=500)
    model = AutoIntClassifier(**QUICK).fit(X, y)
    with _contexts()[context]():
        proto = to_onnx(model, X.iloc[:7])
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    proba = session.run(None, onnx_inputs(model, X_test))[0]
    np.testing.assert_allclose(proba, model.predict_proba(X_test), atol=1e-5, rtol=0)


@pytest.mark.parametrize("setting", ["default dtype float64", "default device meta"])
def test_fit_ignores_the_callers_torch_defaults(adult_small, setting):
    X, y, X_test = _small(adult_small)
    plain = AutoIntClassifier(**QUICK).fit(X, y).predict_proba(X_test)
    try:
        if setting == "default dtype float64":
            torch.set_default_dtype(torch.float64)
        else:
            torch.set_default_device("meta")
        model = AutoIntClassifier(**QUICK).fit(X, y)
        proba = model.predict_proba(X_test)
    finally:
        torch.set_default_dtype(torch.float32)
        torch.set_default_device(None)
    assert next(model.module_.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(proba, plain)


# ------------------------------------------------------------------ random draws of their own
def test_fits_in_threads_at_once_equal_the_same_fits_alone(adult_small):
    X, y, X_test = _small(adult_small)
    settings_ = [dict(random_state=seed, dropout=0.2, max_epochs=3) for seed in range(3)]
    alone = [AutoIntClassifier(**s).fit(X, y).predict_proba(X_test) for s in settings_]
    results, barrier = [None] * 3, threading.Barrier(3)

    def fit(i):
        barrier.wait()
        results[i] = AutoIntClassifier(**settings_[i]).fit(X, y).predict_proba(X_test)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for together, single in zip(results, alone, strict=True):
        np.testing.assert_array_equal(together, single)
    assert not np.array_equal(alone[0], alone[1])  # the seeds matter


def test_partial_fits_of_one_estimator_in_threads_lose_no_update(adult_small):
    X, y, _ = _small(adult_small, n=600)
    model = AutoIntClassifier(**QUICK).partial_fit(X, y, classes=np.unique(y))
    chunks = np.array_split(np.arange(len(y)), 4)

    def train():
        for rows in chunks:
            model.partial_fit(X.iloc[rows], y.iloc[rows])

    threads = [threading.Thread(target=train) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.n_iter_ == 1 + 2 * len(chunks)
    assert [r["epoch"] for r in model.history_] == list(range(1, 2 + 2 * len(chunks)))


def test_a_subclass_that_is_not_hashable_still_fits(adult_small):
    class Compared(AutoIntClassifier):
        def __eq__(self, other):
            return isinstance(other, Compared) and self.get_params() == other.get_params()

        __hash__ = None

    X, y, X_test = _small(adult_small, n=300)
    model = Compared(**QUICK).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X_test),
                                  AutoIntClassifier(**QUICK).fit(X, y).predict_proba(X_test))
    assert id(model) in _base._FIT_LOCKS  # its lock, dropped with the estimator
    key = id(model)
    del model
    import gc

    gc.collect()
    assert key not in _base._FIT_LOCKS


def test_a_fit_neither_reads_nor_changes_the_global_generator(adult_small):
    X, y, X_test = _small(adult_small)
    probas = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        state = torch.random.get_rng_state()
        model = AutoIntClassifier(dropout=0.2, **QUICK).fit(X, y)
        assert torch.equal(torch.random.get_rng_state(), state)
        probas.append(model.predict_proba(X_test))
    np.testing.assert_array_equal(*probas)


def test_building_a_network_draws_nothing_from_the_global_generator():
    state = torch.random.get_rng_state()
    net = AutoIntNet(50, 4, mlp_hidden_units=(8,), linear_term=True, field_bias=True)
    assert torch.equal(torch.random.get_rng_state(), state)
    drawn = {k: v.clone() for k, v in net.state_dict().items()}
    net.reset_parameters(torch.Generator().manual_seed(3))
    again = AutoIntNet(50, 4, mlp_hidden_units=(8,), linear_term=True, field_bias=True)
    again.reset_parameters(torch.Generator().manual_seed(3))
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert not torch.equal(drawn["output.weight"], net.state_dict()["output.weight"])
    bound = 1 / np.sqrt(net.output.in_features)  # torch's default Linear distribution
    assert 0.9 * bound < float(net.output.weight.detach().abs().max()) <= bound


# ------------------------------------------------------------------ numerical extremes
@pytest.mark.parametrize("scale", [1e40, 1e-50])
def test_the_model_is_invariant_to_the_scale_of_the_weights(adult_small, scale):
    X, y, X_test = _small(adult_small)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    one = AutoIntClassifier(**QUICK).fit(X, y, sample_weight=weight)
    scaled = AutoIntClassifier(**QUICK).fit(X, y, sample_weight=weight * scale)
    losses = [r["valid_loss"] for r in scaled.history_]
    assert np.isfinite(losses).all()
    np.testing.assert_allclose(losses, [r["valid_loss"] for r in one.history_], rtol=1e-5)
    assert scaled.best_iteration_ == one.best_iteration_
    np.testing.assert_allclose(scaled.predict_proba(X_test), one.predict_proba(X_test),
                               atol=1e-5)


def test_regressor_and_validation_weights_are_scale_free(adult_small):
    X, _, X_test = _small(adult_small)
    hours, X = X["hours_per_week"].astype(float), X.drop(columns="hours_per_week")
    X_test = X_test.drop(columns="hours_per_week")
    X_fit, y_fit = X.iloc[:1000], hours.iloc[:1000]
    X_val, y_val = X.iloc[1000:], hours.iloc[1000:]
    w_val = np.linspace(0.5, 1.5, len(y_val))
    fits = [AutoIntRegressor(**QUICK).fit(X_fit, y_fit, sample_weight=np.full(1000, s),
                                          X_val=X_val, y_val=y_val,
                                          sample_weight_val=w_val * s)
            for s in (1.0, 1e-60)]
    np.testing.assert_allclose(*[[r["valid_loss"] for r in m.history_] for m in fits],
                               rtol=1e-5)
    np.testing.assert_allclose(fits[0].predict(X_test), fits[1].predict(X_test), rtol=1e-5)


def test_one_dwarfing_training_weight_keeps_the_validation_loss_finite(adult_small):
    X, y, _ = _small(adult_small)
    weight = np.ones(len(y))
    weight[0] = 1e40  # the other rows' weights are below float32's resolution of it
    model = AutoIntClassifier(**QUICK).fit(X, y, sample_weight=weight)
    losses = [r["valid_loss"] for r in model.history_]
    assert np.isfinite(losses).all()
    best, expected = np.inf, 0  # the best epoch: the last that gained more than tol
    for epoch, loss in enumerate(losses, 1):
        if loss < best - model.tol:
            best, expected = loss, epoch
    assert model.best_iteration_ == expected


@pytest.mark.parametrize("scale", [1e-20, 1e200])
def test_the_regressor_is_invariant_to_the_scale_of_the_target(adult_small, scale):
    X, _, X_test = _small(adult_small)
    hours, X = X["hours_per_week"].astype(float), X.drop(columns="hours_per_week")
    X_test = X_test.drop(columns="hours_per_week")
    one = AutoIntRegressor(**QUICK).fit(X, hours)
    scaled = AutoIntRegressor(**QUICK).fit(X, hours * scale)
    np.testing.assert_allclose(scaled.predict(X_test) / scale, one.predict(X_test), rtol=1e-4)
    with pytest.raises(ValueError, match=r"spread of `y` .* outside what float64 can scale"):
        AutoIntRegressor(**QUICK).fit(X, hours * 1e-310)


def test_validation_weights_change_the_validation_loss(adult_small):
    X, y, _ = _small(adult_small)
    X_fit, y_fit, X_val, y_val = X.iloc[:1000], y.iloc[:1000], X.iloc[1000:], y.iloc[1000:]
    plain = AutoIntClassifier(**QUICK).fit(X_fit, y_fit, X_val=X_val, y_val=y_val)
    weight = np.where(y_val.to_numpy() == np.unique(y)[1], 5.0, 1.0)
    weighted = AutoIntClassifier(**QUICK).fit(X_fit, y_fit, X_val=X_val, y_val=y_val,
                                              sample_weight_val=weight)
    assert weighted.history_[0]["valid_loss"] != pytest.approx(plain.history_[0]["valid_loss"])
    with pytest.raises(ValueError, match="`sample_weight_val` is not usable"):
        AutoIntClassifier(**QUICK).fit(X_fit, y_fit, X_val=X_val, y_val=y_val,
                                       sample_weight_val=weight[:5])
    with pytest.raises(ValueError, match="pass `X_val` and `y_val` with it"):
        AutoIntClassifier(**QUICK).fit(X_fit, y_fit, sample_weight_val=weight)


def test_a_subnormal_column_is_refused_by_name_when_embedded():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tiny": rng.normal(size=400) * 1e-310, "c": rng.choice(list("ab"), 400)})
    y = (X["tiny"] > 0).astype(int)
    with pytest.raises(ValueError, match=r"Column 'tiny' cannot be scaled .* subnormal"):
        AutoIntClassifier(continuous="embed", **QUICK).fit(X, y)
    # bucketized, the order of the values is all that counts: the column is learned
    model = AutoIntClassifier(**{**QUICK, "max_epochs": 20}).fit(X, y)
    assert model.score(X, y) > 0.9


# ------------------------------------------------------------------ messages that name the thing
@pytest.mark.parametrize("fraction", [1500, 0.9999])
def test_a_validation_fraction_that_leaves_no_training_rows_names_itself(adult_small,
                                                                         fraction):
    X, y, _ = _small(adult_small)
    with pytest.raises(ValueError, match=r"validation_fraction=.* leaves no training rows"):
        AutoIntClassifier(validation_fraction=fraction, **QUICK).fit(X, y)


def test_early_stopping_false_with_validation_rows_is_refused(adult_small):
    X, y, _ = _small(adult_small)
    with pytest.raises(ValueError, match="early_stopping=False"):
        AutoIntClassifier(early_stopping=False, **QUICK).fit(X, y, X_val=X, y_val=y)


def test_unusable_validation_rows_name_x_val(adult_small):
    X, y, _ = _small(adult_small)
    with pytest.raises(ValueError, match=r"`X_val` is not usable: .*0 sample"):
        AutoIntClassifier(**QUICK).fit(X, y, X_val=X.iloc[:0], y_val=y.iloc[:0])
    with pytest.raises(ValueError, match=r"`X_val` has 10 rows but `y_val` 9"):
        AutoIntClassifier(**QUICK).fit(X, y, X_val=X.iloc[:10], y_val=y.iloc[:9])


@pytest.mark.parametrize("source", ["empty folder", "empty file", "no rows"])
def test_empty_parquet_data_is_refused_clearly(tmp_path, source):
    if source == "empty folder":
        path, match = tmp_path, "holds no Parquet file"
    elif source == "empty file":
        path, match = tmp_path / "empty.parquet", "is not readable as Parquet data"
        path.write_bytes(b"")
    else:
        path, match = tmp_path / "none.parquet", "holds no rows"
        pd.DataFrame({"a": pd.Series([], dtype=float),
                      "y": pd.Series([], dtype=int)}).to_parquet(path)
    model = AutoIntClassifier(**QUICK)
    with pytest.raises(ValueError, match=match):
        partial_fit_parquet(model, path, target="y", classes=[0, 1])
    assert model.field_transformer is None


@pytest.mark.parametrize("weight", [-1.0, np.nan, np.inf, "heavy", "2"])
def test_a_class_weight_that_is_no_weight_is_refused_by_name(adult_small, weight):
    X, y, _ = _small(adult_small, n=300)
    classes = np.unique(y)
    model = AutoIntClassifier(class_weight={classes[0]: 1.0, classes[1]: weight}, **QUICK)
    with pytest.raises(ValueError, match=r"class_weight\['>50K'\] must be a finite, non-neg"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def _parquet_parts(folder, second):
    rng = np.random.default_rng(0)
    first = pd.DataFrame({"a": rng.normal(size=50), "c": rng.choice(list("xy"), 50),
                          "y": rng.integers(0, 2, 50)})
    first.to_parquet(folder / "part-0.parquet")
    second(first).to_parquet(folder / "part-1.parquet")
    return folder


@pytest.mark.parametrize("second", [
    lambda f: f.assign(c=pd.Categorical([f"level {i}" for i in range(len(f))])),  # int8 codes
    lambda f: f.assign(c=None),                                                  # all null
    lambda f: f.set_axis(np.arange(len(f))[::-1]),                               # an index
], ids=["category codes of another width", "an all-null column", "a stored index"])
def test_parquet_files_that_differ_only_in_storage_train(tmp_path, second):
    rng = np.random.default_rng(0)
    first = pd.DataFrame({"a": rng.normal(size=300),
                          "c": pd.Categorical(rng.choice([f"l{i}" for i in range(200)], 300)),
                          "y": rng.integers(0, 2, 300)})
    first.to_parquet(tmp_path / "part-0.parquet")  # 200 levels: int16 codes
    second(first).to_parquet(tmp_path / "part-1.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = partial_fit_parquet(AutoIntClassifier(min_frequency=1, **QUICK), tmp_path,
                                    target="y", classes=[0, 1], chunk_rows=150)
    assert model.n_iter_ == 4
    assert list(model.feature_names_in_) == ["a", "c"]


@pytest.mark.parametrize("call, error, match", [
    (dict(columns="a"), TypeError, "`columns` must be a list of column names"),
    (dict(columns=["a", "zz"]), ValueError, r"`columns` names \['zz'\], which the Parquet"),
    (dict(target="label"), ValueError, "target column 'label' is not in the Parquet data"),
    (dict(epochs=0), ValueError, "`epochs` must be an integer of at least 1; got 0"),
    (dict(chunk_rows=2.5), ValueError, "`chunk_rows` must be an integer of at least 1"),
    (dict(sample_rows=0), ValueError, "`sample_rows` must be an integer of at least 1"),
    (dict(second=lambda f: f.assign(c=1)), ValueError, r"'c' is int64 in the Parquet file"),
    (dict(second=lambda f: f.drop(columns="c")), ValueError, "has no column 'c'; every file"),
])
def test_parquet_arguments_and_files_are_checked_by_name(tmp_path, call, error, match):
    call = {"target": "y", **call}
    folder = _parquet_parts(tmp_path, call.pop("second", lambda f: f))
    model = AutoIntClassifier(**QUICK)
    with pytest.raises(error, match=match):
        partial_fit_parquet(model, folder, classes=[0, 1], **call)
    assert model.field_transformer is None
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    # the readers check the same arguments
    if not {"epochs", "sample_rows"} & set(call):
        with pytest.raises(error, match=match):
            list(iter_parquet_chunks(folder, **call))
    with pytest.raises(ValueError, match="`n_rows` must be an integer of at least 1"):
        sample_parquet(folder, 0, target="y")


def _header_variants():
    good = {"format": 1, "skautoint_version": "0.2.0", "sha256": "0" * 64, "n_bytes": 10}
    yield "not an object", [1, 2], "expected a JSON object"
    for field in good:
        yield f"no {field}", {k: v for k, v in good.items() if k != field}, f"'{field}' is missing"
    yield "format a string", {**good, "format": "1"}, "'format' should be a positive integer"
    yield "format true", {**good, "format": True}, "'format' should be a positive integer"
    yield "n_bytes a float", {**good, "n_bytes": 1.5}, "'n_bytes' should be a non-negative"
    yield "n_bytes negative", {**good, "n_bytes": -1}, "'n_bytes' should be a non-negative"
    yield "sha256 short", {**good, "sha256": "abc"}, "'sha256' should be 64 hexadecimal"
    yield "version a number", {**good, "skautoint_version": 2}, "'skautoint_version' should"


@pytest.mark.parametrize("header, match", [v[1:] for v in _header_variants()],
                         ids=[v[0] for v in _header_variants()])
def test_a_damaged_header_is_named_field_by_field(tmp_path, header, match):
    path = tmp_path / "model.skautoint"
    path.write_bytes(persistence.MAGIC + json.dumps(header).encode() + b"\n" + b"x" * 10)
    with pytest.raises(ValueError, match=f"damaged header: .*{match}"):
        persistence.load(path)


@pytest.mark.parametrize("payload, match", [(b"", "holds no model data"),
                                            (b"junk" * 5, "model data is not readable")])
def test_a_payload_that_is_no_model_is_refused_as_unreadable(tmp_path, payload, match):
    import hashlib
    header = {"format": 1, "skautoint_version": "0.2.0",
              "sha256": hashlib.sha256(payload).hexdigest(), "n_bytes": len(payload)}
    path = tmp_path / "model.skautoint"
    path.write_bytes(persistence.MAGIC + json.dumps(header).encode() + b"\n" + payload)
    with pytest.raises(ValueError, match=match):
        persistence.load(path)


def _odd_columns(X):
    """Copies of ``X`` with a column of a kind fit refuses (or, for lists and tuples in a
    column of scalar levels, reads as another kind of field), and the error predict gives."""
    yield "dates", X.assign(age=pd.Timestamp("2020-01-01")), TypeError, "'age' has dtype date"
    yield "durations", X.assign(age=pd.Timedelta("1D")), TypeError, "'age' has dtype timedelta"
    yield "complex", X.assign(age=X["age"] + 1j), ValueError, "column 'age' has dtype complex"
    yield "lists", X.assign(workclass=[["Private"]] * len(X)), TypeError, \
        "'workclass' held scalar levels in fit but holds a list now \\(\\['Private'\\]\\)"
    yield "tuples", X.assign(workclass=[("Private",)] * len(X)), TypeError, \
        "'workclass' held scalar levels in fit but holds a tuple now"


@pytest.mark.parametrize("kind", ["dates", "durations", "complex", "lists", "tuples"])
def test_predict_and_x_val_refuse_the_columns_fit_refuses(adult_small, kind):
    X, y, X_test = _small(adult_small, n=500)
    model = AutoIntClassifier(**QUICK).fit(X, y)
    [(odd, error, match)] = [v[1:] for v in _odd_columns(X_test) if v[0] == kind]
    calls = [lambda: model.predict_proba(odd)]
    if kind not in ("lists", "tuples"):  # a column of lists at fit is a multi-valued field
        calls.append(lambda: AutoIntClassifier(**QUICK).fit(odd, y.iloc[:len(odd)]))
    for call in calls:
        with pytest.raises(error, match=match):
            call()
    with pytest.raises(error, match="`X_val` is not usable: .*" + match):
        model.fit(X, y, X_val=odd, y_val=y.iloc[:len(odd)])


@pytest.mark.parametrize("estimator", [AutoIntClassifier, AutoIntRegressor])
@pytest.mark.parametrize("y_val, match", [
    (lambda y: np.r_[np.nan, y[1:]], "Input y contains NaN"),
    (lambda y: np.r_[np.inf, y[1:]], "Input y contains infinity"),
    (lambda y: np.c_[y, y], r"\(300, 2\)"),
])
def test_unusable_validation_targets_name_y_val(adult_small, estimator, y_val, match):
    X, y, _ = _small(adult_small, n=300)
    y = (y == np.unique(y)[1]).to_numpy(dtype=float)
    with pytest.raises(ValueError, match=f"`y_val` is not usable: .*{match}"):
        estimator(**QUICK).fit(X, y, X_val=X, y_val=y_val(y))


@pytest.mark.parametrize("dtype", ["string", "category", object])
def test_missing_labels_of_pandas_dtypes_are_counted(adult_small, dtype):
    X, y, _ = _small(adult_small, n=300)
    y = y.astype("string")
    y.iloc[[3, 7]] = pd.NA
    with pytest.raises(ValueError, match="`y` holds 2 missing label"):
        AutoIntClassifier(**QUICK).fit(X, y.astype(dtype))
    with pytest.raises(ValueError, match="`y` holds 2 missing label"):
        AutoIntClassifier(**QUICK).fit(X, y.astype(dtype).to_numpy())


@pytest.mark.parametrize("classes", ["ab", [[0, 1]], ["<=50K", [">50K"]]])
def test_classes_that_are_no_list_of_labels_name_classes(adult_small, classes):
    X, y, _ = _small(adult_small, n=300)
    with pytest.raises(ValueError, match="`classes` must be a 1-D list of every class label"):
        AutoIntClassifier(**QUICK).partial_fit(X, y, classes=classes)


# ------------------------------------------------------------------ parameters that cannot act
@pytest.mark.parametrize("change", [dict(n_layers=1), dict(embedding_dim=8), dict(dropout=0.1),
                                    dict(n_bins=8), dict(continuous="embed")])
@pytest.mark.parametrize("caller", ["warm_start", "partial_fit"])
def test_a_warm_call_refuses_parameters_the_built_network_cannot_take(adult_small, change,
                                                                      caller):
    X, y, X_test = _small(adult_small, n=500)
    model = AutoIntClassifier(warm_start=caller == "warm_start", **QUICK).fit(X, y)
    before = _snapshot(model, X_test)
    model.set_params(**change)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"{caller} continues training .* {name}="):
        model.fit(X, y) if caller == "warm_start" else model.partial_fit(X, y)
    model.set_params(**{name: AutoIntClassifier().get_params()[name]})
    _assert_same(model, before, X_test)
    # the step settings take their new values
    model.set_params(batch_size=64, learning_rate=3e-3)
    model.fit(X, y) if caller == "warm_start" else model.partial_fit(X, y)
    assert (model.batch_size_, model.learning_rate_) == (64, 3e-3)


def test_a_warm_call_compares_parameters_by_value_and_refuses_another_encoding(adult_small):
    from sklearn.frozen import FrozenEstimator

    from skautoint import make_field_transformer

    X, y, _ = _small(adult_small, n=500)
    categorical = X.select_dtypes(exclude="number").columns
    model = AutoIntClassifier(categorical_features=list(categorical), warm_start=True,
                              mlp_hidden_units=[8], **QUICK).fit(X, y)
    model.set_params(categorical_features=tuple(categorical), mlp_hidden_units=(8,)).fit(X, y)
    model.set_params(categorical_features=categorical.to_numpy()).fit(X, y)
    encoding = FrozenEstimator(make_field_transformer().fit(X))
    with pytest.raises(ValueError, match="another `field_transformer` cannot take effect"):
        model.set_params(field_transformer=encoding).fit(X, y)
    built = AutoIntClassifier(field_transformer=encoding, warm_start=True, **QUICK).fit(X, y)
    with pytest.raises(ValueError, match="another `field_transformer` cannot take effect"):
        built.set_params(field_transformer=None).fit(X, y)
    loaded = pickle.loads(pickle.dumps(built.set_params(field_transformer=encoding)))
    loaded.fit(X, y)  # the loaded copy of the same transformer is the same one


def test_partial_fit_step_settings_return_to_auto(adult_small):
    X, y, _ = _small(adult_small, n=600)
    model = AutoIntClassifier(**QUICK).partial_fit(X, y, classes=np.unique(y))
    auto = (model.batch_size_, model.learning_rate_)
    model.set_params(batch_size=7, learning_rate=0.05).partial_fit(X.iloc[:100], y.iloc[:100])
    assert (model.batch_size_, model.learning_rate_) == (7, 0.05)
    model.set_params(batch_size="auto", learning_rate="auto").partial_fit(X.iloc[:100],
                                                                          y.iloc[:100])
    assert (model.batch_size_, model.learning_rate_) == auto  # the first chunk's, not 100 rows'


def test_a_fitted_field_transformer_is_copied_and_ignored_parameters_warned(adult_small):
    from skautoint import make_field_transformer

    X, y, X_test = _small(adult_small, n=500)
    encoding = make_field_transformer().fit(X)
    with pytest.warns(UserWarning, match="n_bins=8 is ignored: the field_transformer"):
        model = AutoIntClassifier(field_transformer=encoding, n_bins=8, **QUICK).fit(X, y)
    before = model.predict_proba(X_test)
    with warnings.catch_warnings():  # the estimator's defaults are no setting to warn about
        warnings.simplefilter("error")
        AutoIntClassifier(field_transformer=make_field_transformer(n_bins=8), **QUICK).fit(X, y)
    encoding.fit(X.assign(workclass="Private"))  # the caller refits their transformer
    np.testing.assert_array_equal(model.predict_proba(X_test), before)


def test_parameters_that_act_on_nothing_are_named(adult_small):
    X, y, _ = _small(adult_small, n=300)
    with pytest.raises(ValueError, match="sets column 'workclass' to 'embed', but it is a cat"):
        AutoIntClassifier(continuous_overrides={"workclass": "embed"}, **QUICK).fit(X, y)
    with pytest.warns(UserWarning, match="dropout=0.2 has no effect"):
        AutoIntClassifier(dropout=0.2, n_layers=0, **QUICK).fit(X, y)


# ------------------------------------------------------------------ odd-but-legal parameter types
def test_narrow_numpy_integers_build_the_same_model_as_python_ints(adult_small):
    X, y, X_test = _small(adult_small)
    sizes = dict(n_heads=4, attention_dim=40, embedding_dim=16, batch_size=100,
                 mlp_hidden_units=(100, 100), n_bins=100, max_categories=100)
    narrow = {k: (tuple(np.int8(u) for u in v) if isinstance(v, tuple) else np.int8(v))
              for k, v in sizes.items()}
    narrow["validation_fraction"] = np.int16(300)
    python = AutoIntClassifier(validation_fraction=300, **sizes, **QUICK).fit(X, y)
    numpy_ = AutoIntClassifier(**narrow, **QUICK).fit(X, y)
    np.testing.assert_array_equal(numpy_.predict_proba(X_test), python.predict_proba(X_test))


def test_every_documented_case_names_a_test_here():
    missing = [name for name in DOCUMENTED.values() if not callable(globals().get(name))]
    assert missing == []


def test_predicting_while_another_thread_refits_sees_the_old_or_the_new_model(adult_small):
    X, y, X_test = _small(adult_small)
    model = AutoIntClassifier(**QUICK).fit(X, y)
    old = model.predict_proba(X_test)
    seen, done = [], threading.Event()

    def refit():
        try:
            model.set_params(random_state=1, n_bins=16).fit(X, y)
        finally:
            done.set()

    thread = threading.Thread(target=refit)
    thread.start()
    while not done.is_set():
        seen.append(model.predict_proba(X_test))
    thread.join()
    new = model.predict_proba(X_test)
    assert not np.array_equal(old, new)
    assert seen and all(np.array_equal(p, old) or np.array_equal(p, new) for p in seen)
