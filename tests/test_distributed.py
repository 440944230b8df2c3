"""Data-parallel fit across torch.distributed processes (gloo on 127.0.0.1)."""

import socket
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import distributed as dist

from skautoint import AutoIntClassifier, AutoIntRegressor

SCRIPT = Path(__file__).parents[1] / "examples" / "train_distributed.py"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def one_process_group():
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}",
                            rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("embedding_update", ["dense", "touched"])
def test_a_group_of_one_process_trains_exactly_like_no_group(adult_small, one_process_group,
                                                            embedding_update):
    X, y, X_test, _ = adult_small
    params = dict(max_epochs=3, embedding_update=embedding_update, class_weight="balanced",
                  random_state=0)
    alone = AutoIntClassifier(**params).fit(X, y)
    grouped = AutoIntClassifier(**params, distributed=True).fit(X, y)
    np.testing.assert_array_equal(grouped.predict_proba(X_test), alone.predict_proba(X_test))
    assert [r["valid_loss"] for r in grouped.history_] == [r["valid_loss"] for r in alone.history_]


def test_a_group_of_one_process_trains_a_regressor_exactly_like_no_group(adult_small,
                                                                        one_process_group):
    X, _, X_test, _ = adult_small
    X = X.copy()  # the fixture is shared by the session
    y = X.pop("hours_per_week")
    params = dict(max_epochs=2, loss="poisson", random_state=0)
    alone = AutoIntRegressor(**params).fit(X, y)
    grouped = AutoIntRegressor(**params, distributed=True).fit(X, y)
    X_test = X_test.drop(columns="hours_per_week")
    np.testing.assert_array_equal(grouped.predict(X_test), alone.predict(X_test))
    assert grouped._loss.scale == alone._loss.scale == pytest.approx(y.mean())


def test_two_torchrun_processes_train_one_network_as_good_as_one_process(adult, tmp_path):
    """Two processes with batches of 128 rows each against one process with batches of 256:
    the same effective batch, so the same test AUC within seed noise."""
    X, y, X_test, y_test = adult
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), str(SCRIPT),
               "--batch-size", "128", "--max-epochs", "3", "--embedding-update", "touched",
               "--save", str(tmp_path / "model{rank}.joblib")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 process(es), 128 rows per step each" in run.stdout

    first, second = (joblib.load(tmp_path / f"model{rank}.joblib") for rank in (0, 1))
    for name, tensor in first.module_.state_dict().items():
        torch.testing.assert_close(second.module_.state_dict()[name], tensor, rtol=0, atol=0)
    # "auto" takes the learning rate of the effective batch of 256 rows
    assert first.batch_size_ == 128 and first.learning_rate_ == pytest.approx(2e-3)
    assert [r["valid_loss"] for r in first.history_] == [r["valid_loss"] for r in second.history_]

    alone = AutoIntClassifier(batch_size=256, max_epochs=3, embedding_update="touched",
                              random_state=0).fit(X, y)
    auc_two = roc_auc_score(y_test, first.predict_proba(X_test)[:, 1])
    auc_one = roc_auc_score(y_test, alone.predict_proba(X_test)[:, 1])
    assert auc_two > 0.91
    assert abs(auc_two - auc_one) < 0.01


def test_distributed_fit_without_a_process_group_says_how_to_start_one(adult_small, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    X, y, _, _ = adult_small
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
        AutoIntClassifier(max_epochs=1, distributed=True).fit(X, y)


def test_partial_fit_refuses_distributed(adult_small):
    X, y, _, _ = adult_small
    with pytest.raises(ValueError, match="distributed=True is for fit"):
        AutoIntClassifier(distributed=True).partial_fit(X, y, classes=np.unique(y))
