"""``precision``: bfloat16 training steps under autocast, float32 weights and predictions."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier, AutoIntRegressor, _training
from skautoint._training import resolve_precision


def test_auto_takes_bfloat16_for_large_steps_on_cpus_with_amx_only(monkeypatch):
    monkeypatch.setattr(_training, "has_amx", lambda: True)
    assert resolve_precision("auto", "cpu", 128, 39, 64) == "bfloat16"
    assert resolve_precision("auto", "cpu", 128, 22, 64) == "float32"  # casts cost the gain
    assert resolve_precision("auto", "cpu", 1024, 26, 16) == "float32"  # heads of 8
    assert resolve_precision("auto", "cuda", 512, 39, 64) == "float32"  # not measured there
    assert resolve_precision("float32", "cpu", 512, 39, 64) == "float32"
    monkeypatch.setattr(_training, "has_amx", lambda: False)
    assert resolve_precision("auto", "cpu", 512, 39, 64) == "float32"
    assert resolve_precision("bfloat16", "cpu", 64, 3, 8) == "bfloat16"


def test_autocast_reaches_the_products_of_a_training_step_and_not_the_loss():
    from skautoint._network import AutoIntNet

    net = AutoIntNet(20, 3, embedding_dim=4, n_layers=1, attention_dim=4)
    index, value = torch.randint(0, 20, (5, 3)), torch.ones(5, 3)
    with _training._autocast("bfloat16", "cpu"):
        raw = net(index, value)
    assert raw.dtype == torch.bfloat16 and net.output.weight.dtype == torch.float32
    with _training._autocast("float32", "cpu"):
        assert net(index, value).dtype == torch.float32


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_each_precision_learns_adult_and_predicts_in_float32(adult_small, precision):
    X, y, X_test, y_test = adult_small
    model = AutoIntClassifier(precision=precision, max_epochs=3, random_state=0).fit(X, y)
    assert model.precision_ == precision
    assert all(p.dtype == torch.float32 for p in model.module_.parameters())
    proba = model.predict_proba(X_test)
    assert proba.dtype == np.float64
    assert roc_auc_score(y_test == ">50K", proba[:, 1]) > 0.85  # a constant scores 0.5
    # float32 inference: a row's prediction hardly depends on the rows scored with it
    np.testing.assert_allclose(model.predict_proba(X_test.iloc[:50]), proba[:50], rtol=1e-5,
                               atol=1e-6)


def test_bfloat16_and_float32_fits_reach_the_same_quality(adult_small):
    X, y, X_test, y_test = adult_small
    aucs = {}
    for precision in ("float32", "bfloat16"):
        model = AutoIntRegressor(precision=precision, max_epochs=4, random_state=0)
        model.fit(X, (y == ">50K").astype(float))
        aucs[precision] = roc_auc_score(y_test == ">50K", model.predict(X_test))
    assert aucs["float32"] > 0.85
    assert abs(aucs["bfloat16"] - aucs["float32"]) < 0.01


def test_a_bad_precision_is_refused_by_name(adult_small):
    X, y = adult_small[:2]
    with pytest.raises(ValueError, match="precision"):
        AutoIntClassifier(precision="float16").fit(X, y)
