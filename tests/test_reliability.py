"""Faults during training are survived, concurrent prediction is safe, inputs are not mutated."""

import copy
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skautoint import AutoIntClassifier, _training
from skautoint._network import AutoIntNet
from skautoint.exceptions import TrainingDivergedError, TrainingInterruptedWarning

QUICK = dict(max_epochs=4, random_state=0)


# --------------------------------------------------------------------------------- divergence
def test_divergence_raises_and_leaves_no_model_behind(adult_small):
    X, y, _, _ = adult_small
    clf = AutoIntClassifier(learning_rate=1e10, **QUICK)
    with pytest.raises(TrainingDivergedError, match=r"loss became nan .* Lower `learning_rate`"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict_proba(X)


def test_divergence_in_a_warm_start_puts_back_the_previous_model(adult_small):
    X, y, X_test, _ = adult_small
    clf = AutoIntClassifier(warm_start=True, **QUICK).fit(X, y)
    before = clf.predict_proba(X_test)
    clf.set_params(learning_rate=1e10)
    with pytest.raises(TrainingDivergedError):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)
    clf.set_params(learning_rate=1e-3).fit(X, y)  # and training can go on
    assert np.isfinite(clf.predict_proba(X_test)).all()


# --------------------------------------------------------------------------------- Ctrl-C
def _interrupt_epoch(monkeypatch, epoch_to_interrupt):
    real = _training._run_epoch

    def run_epoch(module, data, optimizer, loss, batch_size, generator, epoch, **options):
        if epoch == epoch_to_interrupt:
            raise KeyboardInterrupt
        return real(module, data, optimizer, loss, batch_size, generator, epoch, **options)

    monkeypatch.setattr(_training, "_run_epoch", run_epoch)


def test_keyboard_interrupt_keeps_the_best_weights_so_far(adult_small, monkeypatch):
    X, y, X_test, _ = adult_small
    two_epochs = AutoIntClassifier(**{**QUICK, "max_epochs": 2}).fit(X, y)
    _interrupt_epoch(monkeypatch, 3)
    with pytest.warns(TrainingInterruptedWarning, match="interrupted after 2 complete epoch"):
        clf = AutoIntClassifier(**QUICK).fit(X, y)
    assert clf.n_iter_ == 2
    assert clf.best_iteration_ == two_epochs.best_iteration_
    # The same weights as a run that stopped there by itself.
    np.testing.assert_array_equal(clf.predict_proba(X_test), two_epochs.predict_proba(X_test))


def test_keyboard_interrupt_in_the_middle_of_the_first_epoch(adult_small, monkeypatch):
    X, y, X_test, _ = adult_small
    real_forward, calls = AutoIntNet.forward, []

    def forward(self, *args, **kwargs):
        calls.append(1)
        if self.training and len(calls) == 5:
            raise KeyboardInterrupt
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(AutoIntNet, "forward", forward)
    with pytest.warns(TrainingInterruptedWarning, match="interrupted after 0 complete epoch"):
        clf = AutoIntClassifier(**QUICK).fit(X, y)
    assert clf.n_iter_ == 0 and clf.best_iteration_ == 0
    assert np.isfinite(clf.predict_proba(X_test)).all()


# --------------------------------------------------------------------------------- GPU memory
def _out_of_memory_when(monkeypatch, condition):
    real_forward = AutoIntNet.forward

    def forward(self, index, value, **kwargs):
        if condition(self, index):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_forward(self, index, value, **kwargs)

    monkeypatch.setattr(AutoIntNet, "forward", forward)


def test_out_of_memory_in_training_suggests_a_smaller_batch(adult_small, monkeypatch):
    X, y, _, _ = adult_small
    _out_of_memory_when(monkeypatch, lambda module, index: module.training)
    with pytest.raises(torch.cuda.OutOfMemoryError,
                       match=r"training a batch of 256 rows.*Lower `batch_size`"):
        AutoIntClassifier(batch_size=256, **QUICK).fit(X, y)


def test_out_of_memory_in_prediction_retries_with_smaller_batches(adult_small, monkeypatch):
    X, y, X_test, _ = adult_small
    clf = AutoIntClassifier(**QUICK).fit(X, y)
    expected = clf.predict_proba(X_test)
    _out_of_memory_when(monkeypatch, lambda module, index: len(index) > 100)
    np.testing.assert_allclose(clf.predict_proba(X_test), expected, rtol=1e-5, atol=1e-7)
    _out_of_memory_when(monkeypatch, lambda module, index: True)
    with pytest.raises(torch.cuda.OutOfMemoryError, match="predicting one row"):
        clf.predict_proba(X_test)


# --------------------------------------------------------------------------------- threads
def test_eight_threads_predict_the_same_as_sequential_calls(adult_small):
    X, y, X_test, _ = adult_small
    clf = AutoIntClassifier(**QUICK).fit(X, y)
    chunks = np.array_split(np.arange(len(X_test)), 8)
    expected = [clf.predict_proba(X_test.iloc[rows]) for rows in chunks]
    results, errors = [None] * 8, []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            for _ in range(3):
                results[i] = clf.predict_proba(X_test.iloc[chunks[i]])
        except Exception as exc:  # reported below, with the thread's number
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------------- no mutation
def _inputs(adult_small):
    X, y, _, _ = adult_small
    X, y = X.iloc[:1200], y.iloc[:1200]
    frame = X.assign(
        hours=X["hours_per_week"].astype("Int64"),
        sex=X["sex"].astype("category"),
        race=X["race"].astype("string"),
    )
    frame.loc[frame.index[:5], "age"] = np.nan
    yield "frame", frame, y
    yield "object-array", X.to_numpy(), y.to_numpy()
    numeric = X.select_dtypes("number")
    yield "float-array", numeric.to_numpy(dtype=np.float64), (y == ">50K").to_numpy()
    yield "lists", numeric.to_numpy().tolist(), y.tolist()


def test_fit_and_predict_leave_every_input_kind_untouched(adult_small):
    for kind, X, y in _inputs(adult_small):
        weight = np.linspace(0.5, 1.5, len(y))
        X_val, y_val = copy.deepcopy(X), copy.deepcopy(y)
        saved = [copy.deepcopy(obj) for obj in (X, y, weight, X_val, y_val)]
        categorical = [1, 3, 5, 6, 7, 8, 9, 13] if kind == "object-array" else "from_dtype"
        clf = AutoIntClassifier(max_epochs=1, random_state=0, categorical_features=categorical)
        clf.fit(X, y, sample_weight=weight, X_val=X_val, y_val=y_val)
        clf.predict_proba(X)
        for before, after in zip(saved, (X, y, weight, X_val, y_val), strict=True):
            if isinstance(before, pd.DataFrame):
                pd.testing.assert_frame_equal(after, before, check_exact=True)
            elif isinstance(before, pd.Series):
                pd.testing.assert_series_equal(after, before, check_exact=True)
            elif isinstance(before, np.ndarray):  # pandas' equals: NaN equals NaN in objects
                assert after.dtype == before.dtype, kind
                assert pd.DataFrame(after).equals(pd.DataFrame(before)), kind
            else:
                assert after == before, kind
