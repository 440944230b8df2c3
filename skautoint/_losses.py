"""Loss objects: what the network's raw outputs mean, for training, prediction and ONNX.

Each loss owns the number of raw outputs per row, the dtype of the encoded target, the
per-sample loss that training minimises, the inverse link that turns raw outputs into
predictions (probabilities, or the target in its own units), and the validation score the
epoch table and ``history_`` report. One inverse link serves ``predict``, ``predict_proba``
and the exported ONNX graph, in the spirit of ``sklearn._loss``.

Regression losses see a *standardised* target: :meth:`RegressionLoss.fit_target` learns a
shift and scale from the training target (mean and standard deviation; for the log-link
losses ``poisson`` and ``gamma`` the weighted mean alone, so the network fits the link scale
around ``log(mean)``), and the inverse link maps back. Users need no
``TransformedTargetRegressor``.
"""

import math
import sys

import numpy as np
import torch
from torch.nn import functional as F

__all__ = [
    "REGRESSION_LOSSES",
    "AbsoluteError",
    "BinaryLogLoss",
    "GammaDeviance",
    "HuberLoss",
    "Loss",
    "MultinomialLogLoss",
    "PinballLoss",
    "PoissonDeviance",
    "RegressionLoss",
    "SquaredError",
    "classification_loss",
    "make_regression_loss",
]


class Loss:
    """Base class: a loss over ``raw`` network outputs of shape ``(n_rows, n_outputs)``.

    Attributes
    ----------
    name : str
        The loss's name.
    n_outputs : int
        Raw outputs per row.
    target_dtype : torch.dtype
        Dtype of the encoded target tensor.
    score_name : str
        Name of the validation score (``valid_<score_name>`` in the epoch table).
    greater_is_better : bool
        Direction of the validation score.
    """

    name = None
    n_outputs = 1
    target_dtype = torch.float32
    score_name = None
    greater_is_better = True

    def per_sample(self, raw, target):
        """Loss of every row, a tensor of shape ``(n_rows,)``."""
        raise NotImplementedError

    def inverse_link(self, raw):
        """Predictions from raw outputs (probabilities, or the target in its own units)."""
        raise NotImplementedError

    def score_statistics(self, raw, target, weight):
        """Weighted sums from which :meth:`score_from` computes the validation score; sums
        of several processes' statistics give the score of all their rows."""
        raise NotImplementedError

    def score_from(self, statistics):
        """The validation score from (summed) :meth:`score_statistics`."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------
class _ClassificationLoss(Loss):
    target_dtype = torch.int64
    score_name = "accuracy"

    def predicted_class(self, raw):
        """Position in ``classes_`` of the most probable class of every row."""
        raise NotImplementedError

    def score_statistics(self, raw, target, weight):
        correct = (self.predicted_class(raw) == target).to(weight.dtype)
        return torch.stack([(correct * weight).sum(), weight.sum()])

    def score_from(self, statistics):
        correct, total = (float(s) for s in statistics)
        return correct / total if total > 0 else float("nan")


class BinaryLogLoss(_ClassificationLoss):
    """Log-loss of two classes from one logit (sigmoid)."""

    name = "log_loss"

    def per_sample(self, raw, target):
        return F.binary_cross_entropy_with_logits(raw[:, 0], target.to(raw.dtype),
                                                  reduction="none")

    def inverse_link(self, raw):
        positive = torch.sigmoid(raw)
        return torch.cat([1.0 - positive, positive], dim=1)

    def predicted_class(self, raw):
        return (raw[:, 0] > 0).long()


class MultinomialLogLoss(_ClassificationLoss):
    """Log-loss of ``n_classes`` classes from one logit each (softmax).

    Parameters
    ----------
    n_classes : int
        Number of classes (at least 3).
    """

    name = "log_loss"

    def __init__(self, n_classes):
        self.n_outputs = int(n_classes)

    def per_sample(self, raw, target):
        return F.cross_entropy(raw, target, reduction="none")

    def inverse_link(self, raw):
        return torch.softmax(raw, dim=1)

    def predicted_class(self, raw):
        return raw.argmax(dim=1)

    def __repr__(self):
        return f"MultinomialLogLoss(n_classes={self.n_outputs})"


def classification_loss(n_classes):
    """The log-loss for ``n_classes`` classes: binary (one logit) or multinomial."""
    return BinaryLogLoss() if n_classes == 2 else MultinomialLogLoss(n_classes)



# --------------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------------
class RegressionLoss(Loss):
    """A loss over one raw output per row, fitted on the standardised target.

    ``shift`` and ``scale`` map the target to the scale the network fits:
    ``z = (y - shift) / scale``; :meth:`inverse_link` maps back. They are learned by
    :meth:`fit_target`. Reported validation score: R² (in target units it is the same).
    """

    score_name = "r2"
    #: Whether the network's output is on the log scale of the (scaled) mean.
    log_link = False

    def __init__(self):
        self.shift, self.scale = 0.0, 1.0

    #: What the target must be, for error messages; None for any finite number.
    domain = None

    def invalid_count(self, y):
        """Number of values of ``y`` (float64 array) outside the loss's domain."""
        return 0

    def check_target(self, y, name="y", group=None):
        """Raise a ValueError when values of ``y`` are outside the loss's domain.

        With a process ``group`` every process counts its own values and all raise
        together, so that none is left waiting in a collective operation.
        """
        bad = self.invalid_count(y)
        if group is not None:
            bad = group.total(bad)
        if bad:
            raise ValueError(
                f"loss={self.name!r} needs {self.domain}; `{name}` holds {bad} value(s) "
                f"outside it (smallest {np.min(y) if len(y) else 'on another process'})."
            )

    def fit_target(self, total_weight, mean, squared_deviation_sum, deviation_unit=1.0):
        """Learn ``shift`` and ``scale`` from the weighted mean and the weighted sum of
        squared deviations from it of the training target.

        Taking sums (not the target itself) lets a distributed fit add up every process's;
        deviations from the mean (not raw second moments) keep the spread of a target with a
        large offset (prices around 1e9, timestamps). The deviations may be summed in units of
        ``deviation_unit`` (their largest magnitude), so that their squares neither over- nor
        underflow.
        """
        if self.log_link:
            if not mean > 0:
                raise ValueError(f"loss={self.name!r} needs some positive target values; the "
                                 "training target is all zeros.")
            self.shift, self.scale = 0.0, float(mean)
            return self
        std = (deviation_unit * math.sqrt(max(squared_deviation_sum / total_weight, 0.0))
               if total_weight > 0 else 0.0)
        if not math.isfinite(std) or 0 < std < sys.float_info.min:
            raise ValueError(
                f"The spread of `y` ({std:.3g}) is outside what float64 can scale; rescale the "
                "target (e.g. to other units) before fitting."
            )
        # a spread below float64's resolution of the mean is rounding: a constant target
        self.shift, self.scale = float(mean), std if std > 1e-14 * abs(mean) else 1.0
        return self

    def encode_target(self, y):
        """The target the network fits, as float32."""
        return ((np.asarray(y, dtype=np.float64) - self.shift) / self.scale).astype(np.float32)

    def _mean(self, raw):
        """The fitted (standardised) mean of every row, from raw outputs of shape (n, 1)."""
        return torch.exp(raw[:, 0]) if self.log_link else raw[:, 0]

    def inverse_link(self, raw):
        return self.shift + self.scale * self._mean(raw)

    def score_statistics(self, raw, target, weight):
        residual = target - self._mean(raw)
        return torch.stack([
            (weight * residual**2).sum(), weight.sum(), (weight * target).sum(),
            (weight * target**2).sum(),
        ])

    def score_from(self, statistics):
        squared_error, total, first, second = (float(s) for s in statistics)
        if not total > 0:
            return float("nan")
        spread = second - first**2 / total
        return 1.0 - squared_error / spread if spread > 0 else 0.0

    def __repr__(self):
        return f"{type(self).__name__}(shift={self.shift!r}, scale={self.scale!r})"


class SquaredError(RegressionLoss):
    """Squared error on the standardised target (the mean)."""

    name = "squared_error"

    def per_sample(self, raw, target):
        return (raw[:, 0] - target) ** 2


class AbsoluteError(RegressionLoss):
    """Absolute error on the standardised target (the median)."""

    name = "absolute_error"

    def per_sample(self, raw, target):
        return (raw[:, 0] - target).abs()


class HuberLoss(RegressionLoss):
    """Huber loss on the standardised target: squared within one standard deviation of the
    target, absolute beyond (robust to outliers)."""

    name = "huber"
    delta = 1.0

    def per_sample(self, raw, target):
        return F.huber_loss(raw[:, 0], target, reduction="none", delta=self.delta)


class PinballLoss(RegressionLoss):
    """Pinball loss of the ``quantile`` level on the standardised target.

    Its validation score is the mean pinball loss in the target's units (lower is better).

    Parameters
    ----------
    quantile : float
        The predicted quantile, in (0, 1).
    """

    name = "quantile"
    score_name = "pinball"
    greater_is_better = False

    def __init__(self, quantile):
        super().__init__()
        self.quantile = float(quantile)

    def per_sample(self, raw, target):
        error = target - raw[:, 0]
        return torch.maximum(self.quantile * error, (self.quantile - 1.0) * error)

    def score_statistics(self, raw, target, weight):
        return torch.stack([(weight * self.per_sample(raw, target)).sum(), weight.sum()])

    def score_from(self, statistics):
        total_loss, total = (float(s) for s in statistics)
        return self.scale * total_loss / total if total > 0 else float("nan")

    def __repr__(self):
        return (f"PinballLoss(quantile={self.quantile!r}, shift={self.shift!r}, "
                f"scale={self.scale!r})")


class PoissonDeviance(RegressionLoss):
    """Half Poisson deviance with a log link, for counts and rates (``y >= 0``)."""

    name = "poisson"
    log_link = True
    domain = "a non-negative target"

    def invalid_count(self, y):
        return int((y < 0).sum())

    def per_sample(self, raw, target):
        log_mean = raw[:, 0]
        return torch.xlogy(target, target) - target * log_mean - target + torch.exp(log_mean)


class GammaDeviance(RegressionLoss):
    """Half gamma deviance with a log link, for positive skewed targets (``y > 0``)."""

    name = "gamma"
    log_link = True
    domain = "a strictly positive target"

    def invalid_count(self, y):
        return int((y <= 0).sum())

    def per_sample(self, raw, target):
        log_mean = raw[:, 0]
        return log_mean - torch.log(target) + target * torch.exp(-log_mean) - 1.0


_REGRESSION_LOSS_TYPES = {
    loss.name: loss
    for loss in (SquaredError, AbsoluteError, HuberLoss, PinballLoss, PoissonDeviance,
                 GammaDeviance)
}
REGRESSION_LOSSES = tuple(_REGRESSION_LOSS_TYPES)


def make_regression_loss(name, quantile=None):
    """The (unfitted) regression loss called ``name``; ``quantile`` is the level of
    ``"quantile"``.

    >>> make_regression_loss("quantile", quantile=0.9)
    PinballLoss(quantile=0.9, shift=0.0, scale=1.0)
    """
    if name == "quantile":
        if quantile is None:
            raise ValueError("loss='quantile' needs the `quantile` level, a float in (0, 1).")
        return PinballLoss(quantile)
    return _REGRESSION_LOSS_TYPES[name]()
