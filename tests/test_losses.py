"""Loss objects: per-sample losses, inverse links and scores against scikit-learn's metrics."""

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_gamma_deviance,
    mean_pinball_loss,
    mean_poisson_deviance,
    r2_score,
)

from skautoint._losses import (
    REGRESSION_LOSSES,
    BinaryLogLoss,
    HuberLoss,
    MultinomialLogLoss,
    classification_loss,
    make_regression_loss,
)

RNG = np.random.default_rng(0)
N = 500


def _fit_target(loss, y, weight):
    mean = np.average(y, weights=weight)
    return loss.fit_target(weight.sum(), mean, (weight * (y - mean) ** 2).sum())


def _raw(n_outputs=1):
    return torch.from_numpy(RNG.normal(size=(N, n_outputs)))


def test_binary_log_loss_is_scikit_learns_and_its_link_the_sigmoid():
    raw, target = _raw(), torch.from_numpy(RNG.integers(0, 2, N))
    loss = classification_loss(2)
    assert isinstance(loss, BinaryLogLoss) and loss.n_outputs == 1
    proba = loss.inverse_link(raw).numpy()
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-raw[:, 0].numpy())), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert float(loss.per_sample(raw, target).mean()) == pytest.approx(
        log_loss(target.numpy(), proba))
    weight = torch.from_numpy(RNG.uniform(0, 2, N))
    assert loss.score_from(loss.score_statistics(raw, target, weight)) == pytest.approx(
        accuracy_score(target.numpy(), proba.argmax(axis=1), sample_weight=weight.numpy()))


def test_multinomial_log_loss_is_scikit_learns_and_its_link_the_softmax():
    raw, target = _raw(4), torch.from_numpy(RNG.integers(0, 4, N))
    loss = classification_loss(4)
    assert isinstance(loss, MultinomialLogLoss) and loss.n_outputs == 4
    proba = loss.inverse_link(raw).numpy()
    assert float(loss.per_sample(raw, target).mean()) == pytest.approx(
        log_loss(target.numpy(), proba))
    assert loss.score_from(loss.score_statistics(raw, target, torch.ones(N))) == pytest.approx(
        accuracy_score(target.numpy(), proba.argmax(axis=1)))


@pytest.mark.parametrize(("name", "metric"), [
    ("poisson", lambda y, p: mean_poisson_deviance(y, p) / 2),
    ("gamma", lambda y, p: mean_gamma_deviance(y, p) / 2),
    ("quantile", lambda y, p: mean_pinball_loss(y, p, alpha=0.8)),
    ("squared_error", lambda y, p: np.mean((y - p) ** 2)),
    ("absolute_error", lambda y, p: np.mean(np.abs(y - p))),
])
def test_regression_losses_are_the_named_deviances_on_the_fitted_scale(name, metric):
    y = RNG.gamma(2.0, 3.0, N)  # positive: in every loss's domain
    loss = make_regression_loss(name, quantile=0.8)
    weight = np.ones(N)
    _fit_target(loss, y, weight)
    z = torch.from_numpy(loss.encode_target(y).astype(np.float64))
    raw = _raw()
    fitted_mean = torch.exp(raw[:, 0]) if loss.log_link else raw[:, 0]
    assert float(loss.per_sample(raw, z).mean()) == pytest.approx(
        metric(z.numpy(), fitted_mean.numpy()), rel=1e-6)
    # the inverse link maps back to the target's units
    prediction = loss.inverse_link(raw).numpy()
    np.testing.assert_allclose(prediction, loss.shift + loss.scale * fitted_mean.numpy())


def test_standardisation_and_the_scores_in_target_units():
    y = RNG.normal(50.0, 8.0, N)
    weight = RNG.uniform(0.5, 1.5, N)
    loss = _fit_target(make_regression_loss("squared_error"), y, weight)
    assert loss.shift == pytest.approx(np.average(y, weights=weight))
    assert loss.scale == pytest.approx(np.sqrt(np.cov(y, aweights=weight, ddof=0)))
    z = torch.from_numpy(loss.encode_target(y).astype(np.float64))
    raw = z[:, None] + 0.3 * _raw()
    prediction = loss.inverse_link(raw).numpy()
    score = loss.score_from(loss.score_statistics(raw, z, torch.from_numpy(weight)))
    assert score == pytest.approx(r2_score(y, prediction, sample_weight=weight), rel=1e-5)
    pinball = make_regression_loss("quantile", quantile=0.3)
    _fit_target(pinball, y, weight)
    z = torch.from_numpy(pinball.encode_target(y).astype(np.float64))
    score = pinball.score_from(pinball.score_statistics(raw, z, torch.from_numpy(weight)))
    assert not pinball.greater_is_better
    assert score == pytest.approx(mean_pinball_loss(y, pinball.inverse_link(raw).numpy(),
                                                    alpha=0.3, sample_weight=weight), rel=1e-5)


def test_log_link_losses_scale_by_the_mean_and_a_constant_target_keeps_scale_one():
    y = RNG.poisson(4.0, N).astype(float)
    loss = _fit_target(make_regression_loss("poisson"), y, np.ones(N))
    assert (loss.shift, loss.scale) == (0.0, pytest.approx(y.mean()))
    assert loss.inverse_link(torch.zeros(1, 1)).item() == pytest.approx(y.mean())
    constant = _fit_target(make_regression_loss("huber"), np.full(N, 7.0), np.ones(N))
    assert (constant.shift, constant.scale) == (pytest.approx(7.0), 1.0)
    assert isinstance(constant, HuberLoss)


def test_a_large_offset_keeps_the_targets_spread():
    y = 1e12 + RNG.normal(0.0, 0.9, N)
    loss = _fit_target(make_regression_loss("squared_error"), y, np.ones(N))
    assert loss.scale == pytest.approx(np.std(y), rel=1e-3)
    assert np.std(loss.encode_target(y)) == pytest.approx(1.0, rel=1e-3)


def test_every_regression_loss_has_a_name_a_score_and_a_repr():
    for name in REGRESSION_LOSSES:
        loss = make_regression_loss(name, quantile=0.5)
        assert loss.name == name and loss.n_outputs == 1
        assert loss.score_name in ("r2", "pinball") and repr(loss).endswith(")")
    with pytest.raises(ValueError, match="needs the `quantile` level"):
        make_regression_loss("quantile")
