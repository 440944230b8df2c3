"""The AutoInt estimators: :class:`AutoIntClassifier` and :class:`AutoIntRegressor`.

Both are thin: :class:`~skautoint._base.BaseAutoInt` holds the parameters, the fit skeleton,
prediction plumbing and pickling; each class here encodes its target, owns its loss object
and turns raw network outputs into its predictions.
"""

from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import compute_sample_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_y, check_is_fitted

from ._base import BaseAutoInt
from ._distributed import LOCAL
from ._docs import fill_shared_docs
from ._losses import REGRESSION_LOSSES, classification_loss, make_regression_loss
from ._scalars import python_scalars
from ._training import target_moments

__all__ = ["AutoIntClassifier", "AutoIntRegressor", "final_estimator"]


@fill_shared_docs
class AutoIntClassifier(ClassifierMixin, BaseAutoInt):
    """AutoInt classifier: self-attentive feature interactions over fields (Song et al., 2019).

    Takes a raw DataFrame (or array) of mixed categorical and numeric columns: an internal
    field transformer (:func:`~skautoint.make_field_transformer`, with this estimator's field
    parameters) turns every column into one field, and a PyTorch AutoInt network learns which
    fields interact. Columns that are already coded fields (the output of a field transformer
    earlier in a Pipeline) are used as they are. Binary and multiclass; trained on the
    log-loss, early stopping on the validation log-loss (split stratified by class).

    Parameters
    ----------
    {shared_parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``.
    {shared_training}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    {shared_attributes}
    history_ : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``valid_loss`` and ``valid_score``
        (accuracy, with early stopping), ``seconds`` and ``best``.

    See Also
    --------
    AutoIntRegressor : The same network for a numeric target.

    Examples
    --------
    >>> from skautoint import AutoIntClassifier
    >>> from skautoint.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = AutoIntClassifier(max_epochs=2, random_state=0).fit(X[:2000], y[:2000])
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    >>> clf.classes_.tolist()
    ['<=50K', '>50K']
    """

    _parameter_constraints: dict = {
        **BaseAutoInt._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, *, categorical_features="from_dtype", continuous="bucketize",
                 continuous_overrides=None, min_frequency=2, max_categories=None,
                 n_bins="auto", multi_valued_features=None, multi_valued_pooling="mean",
                 max_levels_per_cell="auto", target_statistics=None, field_transformer=None,
                 embedding_dim=16, n_layers=2,
                 n_heads=2, attention_dim=32, output_projection="none", residual="projected",
                 layer_norm="none", activation="relu", projection_bias=False,
                 attention_scaling=False, field_pair_bias="first_layer", field_bias=False,
                 linear_term=False,
                 mlp_hidden_units=(), dropout=0.0, learning_rate="auto", batch_size="auto",
                 max_epochs=100, weight_decay=0.0, embedding_weight_decay=1e-3,
                 embedding_update="auto", early_stopping="auto", validation_fraction=0.1,
                 n_iter_no_change=3, tol=1e-4, class_weight=None, random_state=None,
                 verbose=0, device="auto", precision="auto", warm_start=False,
                 distributed=False):
        self._store_parameters(locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on a chunk of rows, continuing from the network and optimizer
        state of the previous call: training on data larger than memory.

        The first call fixes what cannot change later. ``classes`` must list every label the
        data holds. The field encoding is fitted on the first chunk, or taken as it is from
        ``field_transformer`` when that is fitted (on a sample of the whole data, say):
        levels that encoding has not seen map to the unknown code, as at prediction time.
        ``batch_size="auto"`` and ``learning_rate="auto"`` follow the first chunk's size;
        explicit values take effect at the call they are set for.
        There is no early stopping: every call is one epoch over its rows, numbered in
        ``history_``. After :meth:`fit`, ``partial_fit`` continues its training.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One chunk of training rows, with the columns of the first chunk.
        y : array-like of shape (n_samples,)
            Their class labels, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class label; required on the first call, optional (and checked) later.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (multiplied by ``class_weight``, which cannot be ``"balanced"``
            here: one chunk does not show the class frequencies of the whole data). They
            are scaled to a mean of 1 within the chunk: they weigh rows of one chunk against
            each other, not one chunk against another.

        Returns
        -------
        self : AutoIntClassifier
            The classifier, trained on one more chunk.

        Raises
        ------
        TrainingDivergedError
            When the training loss becomes NaN or infinite; the weights of the previous call
            are put back.
        """
        return self._partial_fit(X, y, sample_weight, classes=classes)

    # ------------------------------------------------------------------ target hooks
    def _validate_target(self, y, name):
        y = _check_labels(y, self, name)
        check_classification_targets(y)
        return y

    def _encode_target(self, y, sample_weight, *, warm, group=LOCAL):
        classes = group.union(np.unique(y))  # every process's labels
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start: the classes {classes.tolist()} differ from those of the first fit "
                f"{self.classes_.tolist()}."
            )
        if len(classes) < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes in the data; got only one "
                f"class: {classes[0]!r}."
            )
        self.classes_, self._loss = classes, classification_loss(len(classes))
        return self._class_weighted(y, sample_weight, group)

    def _encode_partial_target(self, y, sample_weight, *, first, classes=None):
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one chunk does not "
                "show the class frequencies of the whole data. Pass a dict of class weights."
            )
        classes = _partial_fit_classes(self, classes, first)
        if first:
            self.classes_, self._loss = classes, classification_loss(len(classes))
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"`y` holds labels not in `classes`: {unknown.tolist()}.")
        return self._class_weighted(y, sample_weight)

    def _class_weighted(self, y, sample_weight, group=LOCAL):
        """Class positions of ``y`` and ``sample_weight`` times ``class_weight``."""
        target = np.searchsorted(self.classes_, y)
        if self.class_weight == "balanced":
            sample_weight = sample_weight * _balanced_weights(target, len(self.classes_), group)
        elif self.class_weight is not None:
            _check_class_weight(self.class_weight)
            sample_weight = sample_weight * compute_sample_weight(self.class_weight, y)
        return target, sample_weight

    def _statistics_target(self, y):
        return np.searchsorted(self.classes_, y)

    def _encode_validation_target(self, y_val):
        unknown = np.setdiff1d(y_val, self.classes_)
        if unknown.size:
            raise ValueError(f"`y_val` holds labels not seen in `y`: {unknown.tolist()}.")
        return np.searchsorted(self.classes_, y_val)

    def _validation_split(self, target, seed):
        rows = np.arange(len(target))
        stratify = target if np.bincount(target).min() >= 2 else None
        try:
            return train_test_split(rows, test_size=python_scalars(self.validation_fraction),
                                    stratify=stratify, random_state=seed)
        except ValueError:  # too few rows of a class for a stratified split of that size
            return train_test_split(rows, test_size=python_scalars(self.validation_fraction),
                                    random_state=seed)

    @staticmethod
    def _loss_of_state(state):
        return classification_loss(len(state["classes_"]))

    # ------------------------------------------------------------------ predict
    def decision_function(self, X):
        """Raw scores: the logit of the positive class (binary) or one logit per class.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Logits.
        """
        check_is_fitted(self)
        logits = self._raw_predict(X).numpy()
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``; unseen levels and missing values are allowed.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._loss.inverse_link(self._raw_predict(X)).numpy()

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Class labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict` on ``X`` against ``y`` (scikit-learn's classifier
        score; pass ``scoring=`` to a search for another metric).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            The share of rows (weighted) whose predicted label is ``y``.
        """
        return super().score(X, y, sample_weight=sample_weight)


@fill_shared_docs
class AutoIntRegressor(RegressorMixin, BaseAutoInt):
    """AutoInt regressor: self-attentive feature interactions over fields, for a numeric target.

    The same fields and network as :class:`AutoIntClassifier`, with one output trained on a
    regression loss. The target is standardised inside (centred and scaled; for
    ``loss="poisson"`` and ``"gamma"`` divided by its mean, the network fitting the log of
    the mean), so it needs no :class:`~sklearn.compose.TransformedTargetRegressor`. Early
    stopping on the validation loss, on a random (unstratified) split.

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber", "poisson", "gamma", "quantile"}, \
            default="squared_error"
        The loss to minimise, named as in
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor`: ``"squared_error"``
        predicts the mean, ``"absolute_error"`` the median, ``"huber"`` is squared within
        one standard deviation of the target and absolute beyond, ``"poisson"`` (counts,
        ``y >= 0``) and ``"gamma"`` (positive skewed amounts, ``y > 0``) use a log link, and
        ``"quantile"`` predicts the ``quantile`` level.
    quantile : float, default=None
        The quantile to predict with ``loss="quantile"``, in (0, 1).
    {shared_parameters}
    {shared_training}

    Attributes
    ----------
    {shared_attributes}
    history_ : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``valid_loss`` and ``valid_score``
        (R² of the validation rows; the mean pinball loss for ``loss="quantile"``), with
        early stopping, ``seconds`` and ``best``.

    See Also
    --------
    AutoIntClassifier : The same network for class labels.

    Examples
    --------
    >>> from skautoint import AutoIntRegressor
    >>> from skautoint.datasets import load_adult
    >>> X, _ = load_adult(return_X_y=True)
    >>> y = X.pop("hours_per_week")
    >>> reg = AutoIntRegressor(max_epochs=2, random_state=0).fit(X[:2000], y[:2000])
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **BaseAutoInt._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "quantile": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(self, *, loss="squared_error", quantile=None,
                 categorical_features="from_dtype", continuous="bucketize",
                 continuous_overrides=None, min_frequency=2, max_categories=None,
                 n_bins="auto", multi_valued_features=None, multi_valued_pooling="mean",
                 max_levels_per_cell="auto", target_statistics=None, field_transformer=None,
                 embedding_dim=16, n_layers=2,
                 n_heads=2, attention_dim=32, output_projection="none", residual="projected",
                 layer_norm="none", activation="relu", projection_bias=False,
                 attention_scaling=False, field_pair_bias="none", field_bias=False,
                 linear_term=False,
                 mlp_hidden_units=(), dropout=0.0, learning_rate="auto", batch_size="auto",
                 max_epochs=100, weight_decay=0.0, embedding_weight_decay=1e-3,
                 embedding_update="auto", early_stopping="auto", validation_fraction=0.1,
                 n_iter_no_change=3, tol=1e-4, random_state=None, verbose=0, device="auto",
                 precision="auto", warm_start=False, distributed=False):
        self._store_parameters(locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on a chunk of rows, continuing from the network and optimizer
        state of the previous call: training on data larger than memory.

        The first call fixes what cannot change later: the field encoding (fitted on the
        first chunk, or taken as it is from a fitted ``field_transformer``) and the target's
        standardisation (the first chunk's mean and spread). ``batch_size="auto"`` and
        ``learning_rate="auto"`` follow the first chunk's size; explicit values take effect
        at the call they are set for. There is no early stopping:
        every call is one epoch over its rows, numbered in ``history_``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            One chunk of training rows, with the columns of the first chunk.
        y : array-like of shape (n_samples,)
            Their target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, scaled to a mean of 1 within the chunk.

        Returns
        -------
        self : AutoIntRegressor
            The regressor, trained on one more chunk.

        Raises
        ------
        TrainingDivergedError
            When the training loss becomes NaN or infinite; the weights of the previous call
            are put back.
        """
        return self._partial_fit(X, y, sample_weight)

    # ------------------------------------------------------------------ target hooks
    def _validate_target(self, y, name):
        try:
            y = _check_y(y, y_numeric=True, estimator=self)
        except ValueError as exc:
            if np.ndim(y) == 2:
                raise ValueError(
                    f"AutoIntRegressor predicts one target per row; `{name}` has shape "
                    f"{np.shape(y)}. Fit one regressor per column, e.g. with "
                    "sklearn.multioutput.MultiOutputRegressor."
                ) from exc
            raise
        try:
            return np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`{name}` must hold numbers for a regressor ({exc}).") from exc

    def _encode_target(self, y, sample_weight, *, warm, group=LOCAL):
        if warm:
            _check_same_loss(self)
        loss = self._loss if warm else make_regression_loss(self.loss, self.quantile)
        loss.check_target(y, "y", group)
        if not warm:
            self._loss = loss.fit_target(*target_moments(y, sample_weight, group))
        return loss.encode_target(y), sample_weight

    def _encode_partial_target(self, y, sample_weight, *, first, classes=None):
        return self._encode_target(y, sample_weight, warm=not first)

    def _statistics_target(self, y):
        return np.asarray(y, dtype=np.float64)

    def _encode_validation_target(self, y_val):
        self._loss.check_target(y_val, "y_val")
        return self._loss.encode_target(y_val)

    def _validation_split(self, target, seed):
        return train_test_split(np.arange(len(target)),
                                test_size=python_scalars(self.validation_fraction),
                                random_state=seed)

    # ------------------------------------------------------------------ predict
    def predict(self, X):
        """Predicted target of each row (the mean, median or quantile the loss names).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``; unseen levels and missing values are allowed.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions in the target's units.
        """
        check_is_fitted(self)
        return self._loss.inverse_link(self._raw_predict(X)).numpy()

    def score(self, X, y, sample_weight=None):
        """R² of :meth:`predict` on ``X`` against ``y`` (scikit-learn's regressor score,
        whatever the loss; pass ``scoring=`` to a search for another metric).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            The coefficient of determination: 1 for perfect predictions, 0 for the mean.
        """
        return super().score(X, y, sample_weight=sample_weight)


def _check_class_weight(class_weight):
    """Raise a ValueError naming ``class_weight`` when a weight of the dict is not a finite,
    non-negative number."""
    for label, weight in class_weight.items():
        if not (isinstance(weight, Real) and np.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{label!r}] must be a finite, non-negative number; "
                             f"got {weight!r}.")


def final_estimator(model, X):
    """The fitted AutoInt estimator ``model`` is or ends with, and ``X`` transformed by the
    Pipeline steps before it (``X`` may be None)."""
    if hasattr(model, "steps"):
        if X is not None and len(model.steps) > 1:
            X = model[:-1].transform(X)
        model = model[-1]
    if not isinstance(model, BaseAutoInt):
        raise TypeError(
            f"Expected a fitted AutoIntClassifier or AutoIntRegressor (or a Pipeline ending in "
            f"one); got {type(model).__name__}."
        )
    check_is_fitted(model)
    return model, X


def _partial_fit_classes(classifier, classes, first):
    """The sorted ``classes`` of a partial_fit call, checked against the first call's."""
    if classes is not None:
        try:
            flat = np.ndim(classes) == 1
        except ValueError:  # ragged, e.g. ["a", ["b"]]
            flat = False
        if not flat:
            raise ValueError(f"`classes` must be a 1-D list of every class label; got "
                             f"{classes!r}.")
        classes = np.unique(_check_labels(classes, classifier, "classes"))
    if first:
        if classes is None:
            raise ValueError("Pass `classes` (every class label of the data) on the first "
                             "call to partial_fit.")
        if len(classes) < 2:
            raise ValueError(f"`classes` must hold at least 2 labels; got {classes.tolist()}.")
    elif classes is not None and not np.array_equal(classes, classifier.classes_):
        raise ValueError(f"`classes` {classes.tolist()} differ from those of the first call "
                         f"{classifier.classes_.tolist()}.")
    return classes


def _check_same_loss(regressor):
    """A warm start or partial_fit continues the fitted loss; refuse another one."""
    fitted = regressor._loss
    wanted = (regressor.loss, regressor.quantile if regressor.loss == "quantile" else None)
    if wanted != (fitted.name, getattr(fitted, "quantile", None)):
        raise ValueError(
            f"This regressor was fitted with {fitted!r}; warm_start and partial_fit continue "
            f"that fit, so loss={regressor.loss!r} (quantile={regressor.quantile!r}) cannot "
            "replace it. Fit anew (warm_start=False) to change the loss."
        )


def _check_labels(y, estimator, name):
    """``_check_y`` plus clear errors for missing labels and labels of mixed types."""
    if isinstance(y, (pd.Series, pd.api.extensions.ExtensionArray)):  # pd.NA breaks _check_y
        _check_no_missing_label(pd.isna(y.to_numpy(dtype=object, na_value=None)), name)
    elif isinstance(y, np.ndarray) and y.dtype == object and y.ndim == 1:
        _check_no_missing_label(pd.isna(y), name)
    y = _check_y(y, estimator=estimator)
    if y.dtype == object:
        _check_no_missing_label(pd.isna(y), name)
        inferred = pd.api.types.infer_dtype(y, skipna=False)
        if inferred.startswith("mixed") and inferred != "mixed-integer-float":
            types = sorted({type(label).__name__ for label in y})
            raise ValueError(
                f"`{name}` mixes label types {types}; use one type for all labels, e.g. "
                f"`{name}.astype(str)`."
            )
    return y


def _check_no_missing_label(missing, name):
    if missing.any():
        raise ValueError(f"`{name}` holds {int(missing.sum())} missing label(s) (None/NaN); "
                         "every row needs a class label.")


def _balanced_weights(y_encoded, n_classes, group):
    """``class_weight="balanced"`` from the class counts of every process's rows."""
    counts = group.sum(torch.as_tensor(np.bincount(y_encoded, minlength=n_classes))).numpy()
    return (counts.sum() / (n_classes * counts))[y_encoded]
