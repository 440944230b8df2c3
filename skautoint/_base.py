"""The shared base of the AutoInt estimators: parameters, the fit skeleton, prediction
plumbing, attention maps and pickling.

Like scikit-learn's ``BaseHistGradientBoosting``, :class:`BaseAutoInt` does everything that
does not depend on the kind of target; :class:`~skautoint.AutoIntClassifier` and
:class:`~skautoint.AutoIntRegressor` implement the target hooks (``_validate_target``,
``_encode_target``, ``_encode_partial_target``, ``_encode_validation_target``,
``_validation_split``) and their loss objects. Data flows one way: the rows are validated
and encoded by the fields layer, trained on by :func:`~skautoint._training.fit_network`, and
the network knows nothing of either.
"""

import contextlib
import copy
import inspect
import math
import pickle
import threading
import warnings
import weakref
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_consistent_length,
    check_is_fitted,
)

from ._distributed import LOCAL, join_process_group
from ._fields import (
    FieldTransformer,
    check_field_input,
    encode_fields,
    holds_target_statistics,
    make_field_transformer,
)
from ._fields._numeric import N_BINS_CONSTRAINTS
from ._network import (
    ACTIVATIONS,
    FIELD_PAIR_BIASES,
    LAYER_NORMS,
    OUTPUT_PROJECTIONS,
    RESIDUALS,
    AutoIntNet,
    check_layer_form,
)
from ._optim import EMBEDDING_UPDATES
from ._scalars import python_scalars
from ._state import (
    FORMAT1_LAYER_NORM,
    FORMAT1_RESIDUAL,
    STATE_FORMAT,
    check_saved_version,
    checksum,
    upgrade_state,
)
from ._training import (
    PRECISIONS,
    TrainingConfig,
    auto_batch_size,
    auto_learning_rate,
    fit_network,
    predict_attention,
    predict_raw,
    resolve_precision,
    to_tensor_data,
    torch_context,
)
from ._version import __version__
from .exceptions import TrainingInterruptedWarning

__all__ = ["FIELD_PARAMETERS", "NETWORK_PARAMETERS", "BaseAutoInt"]


def _keyword_parameters(function):
    return tuple(name for name, parameter in inspect.signature(function).parameters.items()
                 if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD))


#: The estimator parameters that build the field transformer and the network: read off the
#: signatures they feed, so that each is declared once.
FIELD_PARAMETERS = _keyword_parameters(make_field_transformer)
#: (``slot_fields`` is not one: the field encoding decides it.)
NETWORK_PARAMETERS = tuple(
    name for name, parameter in inspect.signature(AutoIntNet).parameters.items()
    if parameter.kind == parameter.KEYWORD_ONLY and name != "slot_fields"
)

#: The layer switches that were booleans in skautoint 0.1.0, and what each boolean builds.
_FORMAT1_SWITCHES = {"residual": FORMAT1_RESIDUAL, "layer_norm": FORMAT1_LAYER_NORM}


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device='cuda'` was requested but torch sees no CUDA device.")
    return device


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


#: One lock per estimator object, so that fits of it in several threads take turns; keyed by
#: the object's id (estimators need not be hashable) and dropped with the object.
_FIT_LOCKS = {}
_FIT_LOCKS_GUARD = threading.Lock()


def _refuse_reencoded_statistics(caller):
    raise ValueError(
        f"{caller} cannot train with target statistics: it would encode training rows with "
        "statistics learned from their own labels (only fit's first encoding is "
        "cross-fitted). Fit anew with fit (warm_start=False), or set "
        "target_statistics=None."
    )


def _fit_lock(estimator):
    with _FIT_LOCKS_GUARD:
        lock = _FIT_LOCKS.get(id(estimator))
        if lock is None:
            lock = _FIT_LOCKS[id(estimator)] = threading.RLock()
            weakref.finalize(estimator, _FIT_LOCKS.pop, id(estimator), None)
        return lock


def _same_value(a, b):
    """Whether two parameter values are equal (sequences item by item, whatever their type:
    a list, a tuple, an array or an Index)."""
    if a is b:
        return True
    sequences = (list, tuple, np.ndarray, pd.Index)
    try:
        if isinstance(a, sequences) and isinstance(b, sequences):
            return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
        if isinstance(a, sequences) or isinstance(b, sequences):
            return False
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _same_transformer(a, b):
    """Whether two ``field_transformer`` values are the same transformer (the same object,
    or one whose pickle is the same: a loaded model's copy)."""
    if a is b:
        return True
    if a is None or b is None:
        return False
    try:
        return pickle.dumps(a) == pickle.dumps(b)
    except Exception:  # an unpicklable transformer: only the same object is the same
        return False


@contextlib.contextmanager
def _blaming(parameter):
    """Prefix a ValueError or TypeError raised inside with the parameter it concerns."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if str(exc).startswith(f"`{parameter}`"):
            raise
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"`{parameter}` is not usable: {exc}") from exc


class BaseAutoInt(BaseEstimator):
    """Base class of the AutoInt estimators; not to be used directly.

    Subclasses list every parameter in their ``__init__`` (scikit-learn reads them from
    there) and store them with :meth:`_store_parameters`.
    """

    _parameter_constraints: dict = {
        "categorical_features": ["array-like", StrOptions({"from_dtype"}), None],
        "continuous": [StrOptions({"embed", "bucketize", "piecewise_linear"})],
        "continuous_overrides": [dict, None],
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
        "field_transformer": [HasMethods(["fit", "transform"]), None],
        "n_bins": N_BINS_CONSTRAINTS,
        "multi_valued_features": [dict, None],
        "multi_valued_pooling": [StrOptions({"mean", "sum", "sqrtn"})],
        "max_levels_per_cell": [Interval(Integral, 1, None, closed="left"),
                                StrOptions({"auto"})],
        "target_statistics": [list, tuple, np.ndarray, StrOptions({"auto"}), None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 0, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "attention_dim": [Interval(Integral, 1, None, closed="left")],
        "output_projection": [StrOptions(set(OUTPUT_PROJECTIONS))],
        # booleans: the spelling of skautoint 0.1.0, deprecated (see _network_parameters)
        "residual": [StrOptions(set(RESIDUALS)), "boolean"],
        "layer_norm": [StrOptions(set(LAYER_NORMS)), "boolean"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "projection_bias": ["boolean"],
        "attention_scaling": ["boolean"],
        "field_pair_bias": [StrOptions(set(FIELD_PAIR_BIASES))],
        "field_bias": ["boolean"],
        "linear_term": ["boolean"],
        "mlp_hidden_units": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "embedding_weight_decay": [Interval(Real, 0, None, closed="left")],
        "embedding_update": [StrOptions(set(EMBEDDING_UPDATES))],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "precision": [StrOptions(set(PRECISIONS))],
        "warm_start": ["boolean"],
        "distributed": ["boolean"],
    }

    def _store_parameters(self, arguments):
        """Store the ``__init__`` arguments (``locals()`` of a subclass's ``__init__``)."""
        for name in self._get_param_names():
            setattr(self, name, arguments[name])

    # ------------------------------------------------------------------ target hooks
    def _validate_target(self, y, name):
        """``y`` checked as this estimator's target (a 1-D array)."""
        raise NotImplementedError

    def _encode_target(self, y, sample_weight, *, warm, group):
        """Learn the target's encoding and loss in ``fit`` (keep them when ``warm``); return
        the encoded target and the sample weights to train with."""
        raise NotImplementedError

    def _encode_partial_target(self, y, sample_weight, *, first, classes=None):
        """As :meth:`_encode_target`, for one chunk of :meth:`partial_fit`."""
        raise NotImplementedError

    def _encode_validation_target(self, y_val):
        """``y_val`` encoded with the encoding learned from ``y``."""
        raise NotImplementedError

    def _validation_split(self, target, seed):
        """``(train_rows, valid_rows)`` positions for early stopping."""
        raise NotImplementedError

    def _statistics_target(self, y):
        """``y`` as the field transformer's fit sees it, for target statistics: class
        positions (integers) for a classifier, float numbers for a regressor."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the field transformer and train the network.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training columns: categorical, numeric, or coded fields from a field transformer.
        y : array-like of shape (n_samples,)
            The target: class labels of any type for a classifier, numbers for a regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        X_val, y_val : DataFrame or array-like, default=None
            Validation rows for early stopping, instead of a split of ``X``.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Weights of the validation rows (of any scale: the validation loss is their
            weighted mean).

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            When the training loss becomes NaN or infinite. Like any failed call (an error,
            ``KeyboardInterrupt`` before training starts), it leaves the estimator as it was:
            unfitted, or with the previous model, its weights and its optimizer.

        Warns
        -----
        TrainingInterruptedWarning
            When ``KeyboardInterrupt`` stops training; the estimator keeps the best weights so
            far and is usable.
        """
        with self._transaction() as work, torch_context(training=True):
            work._fit(X, y, sample_weight, X_val, y_val, sample_weight_val)
        return self

    def _fit(self, X, y, sample_weight, X_val, y_val, sample_weight_val):
        warm = self.warm_start and hasattr(self, "module_")
        X = check_field_input(self, X, reset=not warm)
        y = self._validate_target(y, "y")
        check_consistent_length(X, y)
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both `X_val` and `y_val`, or neither.")
        if X_val is None and sample_weight_val is not None:
            raise ValueError("`sample_weight_val` weighs the rows of `X_val`; pass `X_val` and "
                             "`y_val` with it.")
        if X_val is not None and self.early_stopping is False:
            raise ValueError(
                "`X_val` and `y_val` are passed to fit while early_stopping=False: the "
                "validation rows would be ignored. Set early_stopping='auto' or True to stop "
                "on them, or do not pass them."
            )
        self._check_network_form()
        if warm:
            self._check_same_model_form("warm_start")
            if holds_target_statistics(self.field_transformer_):
                _refuse_reencoded_statistics("A warm start")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        self.device_ = _resolve_device(self.device)  # fail before any encoding work
        group = join_process_group(self.device_) if self.distributed else LOCAL
        target, sample_weight = self._encode_target(y, sample_weight, warm=warm, group=group)

        rng = check_random_state(self.random_state)
        seed, split_seed = rng.randint(np.iinfo(np.int32).max, size=2)
        # the arrays are the only encoded copy of X that training keeps
        index, value = (self._encode(X) if warm else
                        self._fit_field_transformer(X, group, y=self._statistics_target(y)))

        train_rows, validation = np.arange(len(target)), None
        if X_val is not None:
            validation = self._validation_from(X_val, y_val, sample_weight_val)
        elif self._early_stopping_enabled(group.total(len(target))):
            self._check_validation_fraction(len(target))
            train_rows, valid_rows = self._validation_split(target, split_seed)
            validation = (index[valid_rows], value[valid_rows], target[valid_rows],
                          sample_weight[valid_rows])
        self._auto_step_rows = (group.total(len(train_rows)), group.world_size)
        self._resolve_step_settings(*self._auto_step_rows)
        self._train_encoded(index, value, target, sample_weight, train_rows=train_rows,
                            validation=validation, seed=seed, warm=warm,
                            max_epochs=self.max_epochs, caller="fit", group=group)
        return self

    def _partial_fit(self, X, y, sample_weight, classes=None):
        """One epoch on one chunk; the shared body of the subclasses' ``partial_fit``."""
        with self._transaction() as work, torch_context(training=True):
            work._partial_fit_chunk(X, y, sample_weight, classes)
        return self

    @contextlib.contextmanager
    def _transaction(self):
        """A working copy of the estimator (its attributes, not their values) that the block
        fits; the estimator takes the copy's attributes, in one step, only when the block
        ends without an exception.

        A failed call (any exception, ``KeyboardInterrupt`` too) is a call that never
        happened, and another thread predicting meanwhile sees the old model or the new one,
        never a mix. Calls that fit the same estimator from several threads take turns, so
        none of their updates is lost. Nothing is changed in place: a warm start trains
        copies of the network and its optimizer (:func:`~skautoint._training.fit_network`).
        """
        with _fit_lock(self):
            work = object.__new__(type(self))
            work.__dict__.update(self.__dict__)
            yield work
            self.__dict__.update(work.__dict__)

    def __sklearn_is_fitted__(self):
        """Fitted once a network has been trained (what ``check_is_fitted`` asks)."""
        return hasattr(self, "module_")

    def _partial_fit_chunk(self, X, y, sample_weight, classes):
        if self.distributed:
            raise ValueError(
                "partial_fit does not train across processes: distributed=True is for fit. "
                "Train each chunk with fit(warm_start=True) in a torchrun job instead."
            )
        first = not hasattr(self, "module_")
        transformer = self.field_transformer if first else self.field_transformer_
        if ((self.target_statistics is not None and transformer is None)
                or holds_target_statistics(transformer)):
            _refuse_reencoded_statistics("partial_fit")
        X = check_field_input(self, X, reset=first)
        y = self._validate_target(y, "y")
        check_consistent_length(X, y)
        self._check_network_form()
        if not first:
            self._check_same_model_form("partial_fit")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        target, sample_weight = self._encode_partial_target(y, sample_weight, first=first,
                                                            classes=classes)
        self.device_ = _resolve_device(self.device)
        if first:
            index, value = self._fit_field_transformer(X)
            self._auto_step_rows = (len(target), 1)
        else:
            index, value = self._encode(X)
        # "auto" follows the first chunk (or fit's rows); an explicit value takes effect now
        self._resolve_step_settings(*getattr(self, "_auto_step_rows", (len(target), 1)))
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        seed = (int(seed) + len(self.history_)) % np.iinfo(np.int32).max  # a new order per call
        self._train_encoded(index, value, target, sample_weight,
                            train_rows=np.arange(len(target)), validation=None, seed=seed,
                            warm=not first, max_epochs=1, caller="partial_fit")
        return self

    def _check_network_form(self):
        units = self.mlp_hidden_units
        if not all(isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in units):
            raise InvalidParameterError(
                f"The 'mlp_hidden_units' parameter of {type(self).__name__} must be a tuple of "
                f"positive ints. Got {units!r} instead."
            )
        network = self._network_parameters()
        for name in _FORMAT1_SWITCHES:
            if isinstance(getattr(self, name), (bool, np.bool_)):
                warnings.warn(
                    f"{name}={getattr(self, name)} is deprecated and will be refused in a later "
                    f"version; it builds the same layers as {name}={network[name]!r}.",
                    FutureWarning, stacklevel=4,
                )
        check_layer_form(self.embedding_dim, self.attention_dim, self.n_heads,
                         output_projection=self.output_projection, residual=network["residual"],
                         n_layers=self.n_layers)
        if network["dropout"] > 0 and network["n_layers"] == 0 and not units:
            warnings.warn(
                f"dropout={self.dropout!r} has no effect: it acts on the attention weights and "
                "in the MLP branch, and with n_layers=0 and mlp_hidden_units=() the network "
                "has neither.", UserWarning, stacklevel=4,
            )

    def _check_same_model_form(self, caller):
        """Refuse network or field parameters changed since the network was built: a warm
        start and ``partial_fit`` continue training that network on that encoding."""
        built = {name: self.module_params_[name] for name in NETWORK_PARAMETERS}
        wanted = self._network_parameters()
        encoding = getattr(self, "_encoding_built_with", None)  # None: saved before 0.2
        if encoding is not None:
            if not _same_transformer(self.field_transformer, encoding["field_transformer"]):
                raise ValueError(
                    f"{caller} continues training the fitted network on its field encoding, "
                    "so another `field_transformer` cannot take effect. Set the one the model "
                    "was built with back, or fit anew (warm_start=False)."
                )
            if self.field_transformer is None:
                built.update({name: encoding[name] for name in FIELD_PARAMETERS})
                wanted.update(self._field_parameters())
        changed = [f"{name}={wanted[name]!r} (built with {built[name]!r})"
                   for name in built if not _same_value(built[name], wanted[name])]
        if changed:
            raise ValueError(
                f"{caller} continues training the fitted network on its field encoding, so "
                f"these parameters cannot take effect: {', '.join(changed)}. Set them back, "
                "or fit anew (warm_start=False) to change them."
            )

    def _resolve_step_settings(self, n_samples, n_processes=1):
        """Set ``batch_size_`` (each process's) and ``learning_rate_``, the "auto" ones from
        ``n_samples`` (of all processes) and the effective batch of all processes."""
        self.batch_size_ = (max(1, auto_batch_size(n_samples) // n_processes)
                            if self.batch_size == "auto" else int(self.batch_size))
        self.learning_rate_ = (auto_learning_rate(self.batch_size_ * n_processes)
                               if self.learning_rate == "auto" else float(self.learning_rate))

    def _check_validation_fraction(self, n_samples):
        """Refuse a ``validation_fraction`` that leaves either part of the split empty."""
        fraction = python_scalars(self.validation_fraction)
        n_valid = math.ceil(fraction * n_samples) if isinstance(fraction, float) else fraction
        if not 1 <= n_valid < n_samples:
            raise ValueError(
                f"validation_fraction={fraction!r} holds out {n_valid} of the {n_samples} "
                "rows for early stopping, which leaves "
                + ("no training rows" if n_valid >= n_samples else "no validation rows")
                + ". Lower it (a share in (0, 1) or a number of rows below the number of "
                "rows), pass X_val and y_val, or set early_stopping=False."
            )

    def _early_stopping_enabled(self, n_samples):
        if self.early_stopping == "auto":
            return n_samples >= 200
        return bool(self.early_stopping)

    # ------------------------------------------------------------------ fields
    def _field_parameters(self):
        return {name: python_scalars(getattr(self, name)) for name in FIELD_PARAMETERS}

    def _new_field_transformer(self):
        """An unfitted field transformer built from the field parameters."""
        return make_field_transformer(**self._field_parameters())

    def _fit_field_transformer(self, X, group=LOCAL, y=None):
        """Set ``field_transformer_`` and ``field_spec_`` from the first data; return its
        ``(index, value)`` arrays. ``y`` is the target the transformer's fit sees (for
        target statistics).

        ``field_transformer``, when fitted, is used as it is; unfitted, a clone is fitted
        (on process 0's rows, and sent to the other processes); without it, one is built
        from the field parameters.
        """
        transformer = self.field_transformer
        if transformer is not None:
            self._warn_ignored_field_parameters()
        if transformer is not None and _is_fitted(transformer):
            if holds_target_statistics(transformer):
                _refuse_reencoded_statistics("Training on a fitted field_transformer")
            # a copy: refitting the caller's transformer later must not change this model
            transformer = copy.deepcopy(transformer)
            encoded = encode_fields(transformer, X)
        else:
            transformer = (clone(transformer).set_output(transform="pandas")
                           if transformer is not None else self._new_field_transformer())
            if group.rank == 0:
                encoded = encode_fields(transformer, X, fit=True, y=y)
            transformer = group.broadcast(transformer)
            if group.rank != 0:
                encoded = encode_fields(transformer, X)
        self.field_transformer_ = transformer
        # what a warm start must find unchanged (_check_same_model_form)
        self._encoding_built_with = {"field_transformer": self.field_transformer,
                                     **self._field_parameters()}
        self.field_spec_, index, value = encoded
        self.history_ = []
        return index, value

    def _warn_ignored_field_parameters(self):
        """Warn about field parameters set on the estimator (not at their defaults) that
        differ from what the user's ``field_transformer`` does."""
        defaults = {name: p.default for name, p in
                    inspect.signature(type(self).__init__).parameters.items()}
        transformer = getattr(self.field_transformer, "estimator", self.field_transformer)
        used = transformer.get_params() if isinstance(transformer, FieldTransformer) else {}
        ignored = [name for name in FIELD_PARAMETERS
                   if not _same_value(python_scalars(getattr(self, name)), defaults[name])
                   and not _same_value(python_scalars(getattr(self, name)),
                                       used.get(name, defaults[name]))]
        if ignored:
            warnings.warn(
                f"{', '.join(f'{n}={getattr(self, n)!r}' for n in ignored)} "
                f"{'is' if len(ignored) == 1 else 'are'} ignored: the field_transformer passed "
                "defines the field encoding. Set them on the transformer instead.",
                UserWarning, stacklevel=4,
            )

    def _encode(self, X):
        return encode_fields(self.field_transformer_, self._as_fitted(X), self.field_spec_)[1:]

    def _as_fitted(self, X):
        """Give validated ``X`` the column naming of ``fit`` (names or none).

        The estimator's own validation has already warned about a names mismatch and checked
        the column count; this keeps the inner field encoders from repeating the warning.
        """
        names = getattr(self, "feature_names_in_", None)
        if isinstance(X, pd.DataFrame) and names is None:
            return X.set_axis(range(X.shape[1]), axis=1)
        if not isinstance(X, pd.DataFrame) and names is not None:
            return pd.DataFrame(X, columns=names, copy=False)
        return X

    def _validation_from(self, X_val, y_val, sample_weight_val):
        """``X_val``, ``y_val`` and their weights validated and encoded; an error names the
        parameter at fault."""
        with _blaming("X_val"):
            X_val = check_field_input(self, X_val, reset=False)
        with _blaming("y_val"):
            y_val = self._validate_target(y_val, "y_val")
        if _num_samples(X_val) != _num_samples(y_val):
            raise ValueError(f"`X_val` has {_num_samples(X_val)} rows but `y_val` "
                             f"{_num_samples(y_val)}.")
        with _blaming("sample_weight_val"):
            weight = _check_sample_weight(sample_weight_val, X_val, dtype=np.float64,
                                          ensure_non_negative=True)
        target = self._encode_validation_target(y_val)
        with _blaming("X_val"):
            index, value = self._encode(X_val)
        return index, value, target, weight

    # ------------------------------------------------------------------ training
    def _network_parameters(self):
        """The network parameters, with 0.1.0's boolean ``residual`` and ``layer_norm`` as
        the switches that build the same layers (``_check_network_form`` warns about them)."""
        params = {name: python_scalars(getattr(self, name)) for name in NETWORK_PARAMETERS}
        params["mlp_hidden_units"] = tuple(params["mlp_hidden_units"])
        for name, meaning in _FORMAT1_SWITCHES.items():
            if isinstance(params[name], (bool, np.bool_)):
                params[name] = meaning[bool(params[name])]
        return params

    def _module_params(self):
        spec = self.field_spec_
        params = self._network_parameters()
        bags = {} if spec.slot_fields is None else {"slot_fields": spec.slot_fields}
        return dict(table_rows=spec.table_rows, n_fields=spec.n_fields,
                    n_outputs=self._loss.n_outputs, **params, **bags)

    def _training_config(self, max_epochs):
        return TrainingConfig(
            learning_rate=self.learning_rate_, batch_size=self.batch_size_,
            max_epochs=int(max_epochs), weight_decay=float(self.weight_decay),
            n_iter_no_change=int(self.n_iter_no_change), tol=float(self.tol),
            verbose=int(self.verbose), embedding_weight_decay=float(self.embedding_weight_decay),
            embedding_update=self.embedding_update,
            precision=resolve_precision(self.precision, self.device_, self.batch_size_,
                                        self.field_spec_.n_fields,
                                        self.n_heads * self.attention_dim),
        )

    def _train_encoded(self, index, value, target, sample_weight, *, train_rows, validation,
                       seed, warm, max_epochs, caller, group=LOCAL):
        """Train on encoded rows (a new network unless ``warm``) and keep the result."""
        module_params = self.module_params_ if warm else self._module_params()
        config = self._training_config(max_epochs)
        result = fit_network(
            module_params=module_params, index=index, value=value, target=target,
            sample_weight=sample_weight, train_rows=train_rows, loss=self._loss,
            config=config, seed=seed, device=self.device_,
            validation=validation, warm=(self.module_, self._optimizer) if warm else None,
            first_epoch=len(self.history_) + 1, group=group,
        )
        self.module_params_ = module_params
        self.module_, self._optimizer = result.module, result.optimizer
        self.embedding_update_ = result.optimizer.embedding_update
        self.precision_ = config.precision
        self.history_ = self.history_ + result.history
        self.n_iter_ = len(self.history_)
        if result.best_epoch or not warm:
            self.best_iteration_ = result.best_epoch
        if result.interrupted:
            warnings.warn(
                f"{caller} was interrupted after {len(result.history)} complete epoch(s); the "
                f"network keeps the weights of epoch {self.best_iteration_} (0: the interrupted "
                "first epoch's).",
                TrainingInterruptedWarning, stacklevel=4,  # the caller of fit/partial_fit
            )

    # ------------------------------------------------------------------ predict
    def _encode_for_inference(self, X):
        """Validate rows given after ``fit`` and encode them as ``(index, value)`` arrays."""
        check_is_fitted(self)
        return self._encode(check_field_input(self, X, reset=False))

    def _network_input(self, X):
        """Rows given after ``fit`` as TensorData on the network's device."""
        device = next(self.module_.parameters()).device
        return to_tensor_data(*self._encode_for_inference(X), device=device)

    def _raw_predict(self, X):
        """The network's raw outputs for ``X``, as a float64 CPU tensor."""
        with torch_context(training=False):
            return predict_raw(self.module_, self._network_input(X)).cpu().double()

    def attention_weights(self, X, *, per_row=True):
        """Field-by-field attention of every interacting layer and head: what interacts with
        what.

        Row ``m`` of a map is how field ``m`` mixes the other fields into its new
        representation; it sums to 1.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns as in ``fit``.
        per_row : bool, default=True
            Keep every row's maps (``n_samples * n_layers * n_heads * n_fields**2`` floats).
            ``False`` keeps only their mean, in memory independent of ``n_samples``.

        Returns
        -------
        attention : Bunch
            ``per_row``: ndarray of shape (n_samples, n_layers, n_heads, n_fields, n_fields)
            (only with ``per_row=True``); ``mean``: the mean over rows, of shape (n_layers,
            n_heads, n_fields, n_fields); ``field_names``: ndarray of str, the fields in
            the order of the last two axes.

        Raises
        ------
        ValueError
            When the network has no interacting layer (``n_layers=0``) or ``X`` has no rows.

        See Also
        --------
        skautoint.inspection.AttentionMapDisplay : Plots these maps as labelled heatmaps.
        skautoint.inspection.rank_field_pairs : The strongest field pairs as a table.
        """
        check_is_fitted(self)
        if self.module_params_["n_layers"] == 0:
            raise ValueError("attention_weights needs n_layers >= 1; this model has none.")
        with torch_context(training=False):
            return self._attention_weights(self._network_input(X), per_row)

    def _attention_weights(self, data, per_row):
        names = np.asarray(self.field_spec_.names, dtype=object)
        if not per_row:
            total = predict_attention(self.module_, data, summed=True)
            return Bunch(mean=(total / len(data)).cpu().numpy(), field_names=names)
        weights = predict_attention(self.module_, data).cpu().numpy()
        return Bunch(per_row=weights, mean=weights.mean(axis=0), field_names=names)

    # ------------------------------------------------------------------ sklearn plumbing
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.non_deterministic = self.device == "cuda" or (
            self.device == "auto" and torch.cuda.is_available()
        )
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__
        state.pop("_optimizer", None)
        module = state.pop("module_", None)
        if module is not None:
            weights = {
                name: tensor.detach().cpu().numpy() for name, tensor in module.state_dict().items()
            }
            state["module_state_"] = weights
            state["_module_checksum"] = checksum(weights)
        state["_skautoint_version"] = __version__
        state["_skautoint_state_format"] = STATE_FORMAT
        return state

    def __setstate__(self, state):
        saved_version = state.pop("_skautoint_version", None)
        saved_format = state.pop("_skautoint_state_format", None)
        saved_checksum = state.pop("_module_checksum", None)
        module_state = state.pop("module_state_", None)
        name = type(self).__name__
        check_saved_version(name, saved_version, saved_format)
        state = upgrade_state(state, saved_format, self._loss_of_state)
        # parameters added since the model was saved: their defaults, which build what the
        # older version built (upgrade_state sets those whose default builds something else)
        defaults = {key: parameter.default for key, parameter
                    in inspect.signature(type(self).__init__).parameters.items()
                    if parameter.default is not inspect.Parameter.empty}
        for key, default in defaults.items():
            state.setdefault(key, default)
            if key in FIELD_PARAMETERS and state.get("_encoding_built_with") is not None:
                state["_encoding_built_with"].setdefault(key, default)
        super().__setstate__(state)
        self._optimizer = None
        if module_state is None:
            return
        if saved_checksum is None or checksum(module_state) != saved_checksum:
            raise ValueError(
                f"The network weights in this saved {name} do not match their checksum: the "
                "file is corrupted. Save the model again from its source."
            )
        module = AutoIntNet(**self.module_params_)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in module_state.items()})
        self.module_ = module.eval()

    @staticmethod
    def _loss_of_state(state):
        """The loss object of a fitted state saved before losses were objects."""
        raise NotImplementedError
