"""The scikit-learn face of AutoInt: parameters, validation, tags, prediction, persistence."""

import re
import warnings
import zlib
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state, compute_sample_weight
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_consistent_length,
    check_is_fitted,
)

from . import __version__
from ._distributed import LOCAL, join_process_group
from ._fields import FieldSpec, check_field_input, make_field_transformer
from ._network import AutoIntNet
from ._optim import EMBEDDING_UPDATES
from ._training import (
    TensorData,
    TrainingConfig,
    auto_batch_size,
    auto_learning_rate,
    predict_attention,
    predict_logits,
    train,
)
from .exceptions import (
    InconsistentVersionWarning,
    TrainingDivergedError,
    TrainingInterruptedWarning,
)

__all__ = ["AutoIntClassifier"]

_FIELD_PARAMS = ("categorical_features", "continuous", "continuous_overrides", "min_frequency",
                 "max_categories", "n_bins")
#: Layout of the pickled state; bumped when a later version cannot read an older layout.
STATE_FORMAT = 1

_NETWORK_PARAMS = ("embedding_dim", "n_layers", "n_heads", "attention_dim", "residual",
                   "attention_scaling", "layer_norm", "linear_term", "mlp_hidden_units", "dropout")


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device='cuda'` was requested but torch sees no CUDA device.")
    return device


class AutoIntClassifier(ClassifierMixin, BaseEstimator):
    """AutoInt classifier: self-attentive feature interactions over fields (Song et al., 2019).

    Takes a raw DataFrame (or array) of mixed categorical and numeric columns: an internal
    field transformer (:func:`~skautoint.make_field_transformer`, with this estimator's field
    parameters) turns every column into one field, and a PyTorch AutoInt network learns which
    fields interact. Columns that are already coded fields (the output of a field transformer
    earlier in a Pipeline) are used as they are.

    Parameters
    ----------
    categorical_features : "from_dtype", None, array-like of str or int, or bool mask, \
            default="from_dtype"
        Which columns are categorical; see :func:`~skautoint.make_field_transformer`.
    continuous : {"embed", "bucketize"}, default="bucketize"
        How numeric columns become fields: quantile buckets, or a robustly scaled value times
        a learned vector (the paper's way).
    continuous_overrides : dict, default=None
        Per-column choice replacing ``continuous``, keyed by column name or index.
    min_frequency : int or float, default=2
        Categorical levels seen fewer times share one "rare" code (so a level seen once, which
        no embedding can learn from, is rare). Raise it, or set ``max_categories``, to bound
        the embedding table on very large data.
    max_categories : int, default=None
        Keep at most this many levels per categorical column (the most frequent); the others
        share the rare code. Bounds the embedding table for identifier-like columns.
    n_bins : int or "auto", default="auto"
        Largest number of buckets of a bucketized column; ``"auto"`` takes one per 250 rows,
        between 8 and 128.
    field_transformer : FieldTransformer, default=None
        The field encoding to use instead of one built from the parameters above (which it
        then overrides). Unfitted, a clone of it is fitted on the training rows. Fitted (on a
        sample of data too large for memory, for :meth:`partial_fit`), it is used as it is;
        wrap it in :class:`sklearn.frozen.FrozenEstimator` so that ``clone`` (and with it
        ``GridSearchCV``) keeps it fitted.
    embedding_dim : int, default=16
        Width of every field embedding.
    n_layers : int, default=3
        Number of interacting (self-attention) layers.
    n_heads : int, default=2
        Attention heads per layer.
    attention_dim : int, default=32
        Width of each attention head.
    residual : bool, default=True
        Projected residual connection ``W_res e_m`` in every layer.
    attention_scaling : bool, default=False
        Divide attention logits by ``sqrt(attention_dim)``.
    layer_norm : bool, default=False
        LayerNorm after every interacting layer.
    linear_term : bool, default=False
        Add a first-order (logistic-regression) term.
    mlp_hidden_units : tuple of int, default=()
        Non-empty adds an MLP branch on the embeddings (AutoInt+).
    dropout : float, default=0.0
        Dropout on attention weights and in the MLP branch.
    learning_rate : float or "auto", default="auto"
        Adam's step size. ``"auto"`` is ``1e-3 * sqrt(batch_size / 256)``, at least 5e-4.
    batch_size : int or "auto", default="auto"
        Rows per training step. ``"auto"`` aims at about 100 steps per epoch: the power of 2
        nearest to ``n_samples / 100``, between 32 and 1024.
    max_epochs : int, default=100
        Largest number of passes over the training data.
    weight_decay : float, default=0.0
        Adam's L2 penalty on the attention, output and MLP weights.
    embedding_weight_decay : float, default=1e-3
        Adam's L2 penalty on the embedding tables (the field embeddings, and the per-level
        weights of ``linear_term``). It reaches every row at every step, also the rows of
        levels absent from the batch, which Adam then pulls towards zero: the rarer a level,
        the more its embedding shrinks (rare levels are where a CTR model overfits). ``0``
        turns it off. With ``embedding_update="touched"`` it reaches only the rows of the
        levels in the batch.
    embedding_update : {"auto", "dense", "touched"}, default="auto"
        How Adam updates the embedding tables. ``"dense"``: every row at every step, at a
        cost proportional to the size of the tables (about 3 s per step for 10 million
        levels on 2 CPU cores). ``"touched"``: only the rows of the levels in the batch, at a
        cost independent of the vocabulary; the other rows keep their values and moments.
        ``"auto"`` takes ``"touched"`` when the tables hold 2**22 entries or more (262,144
        levels of width 16), ``"dense"`` otherwise. The choice is in ``embedding_update_``.
    early_stopping : "auto" or bool, default="auto"
        Hold out ``validation_fraction`` of the rows (or use ``X_val``) and stop when the
        validation log-loss has not improved by ``tol`` for ``n_iter_no_change`` epochs; the
        best epoch's weights are restored. ``"auto"`` enables it from 200 rows on, or
        whenever ``X_val`` is given.
    validation_fraction : float or int, default=0.1
        Share (or number) of rows held out for early stopping, stratified by class.
    n_iter_no_change : int, default=5
        Epochs without improvement before training stops.
    tol : float, default=1e-4
        Smallest decrease of the validation log-loss that counts as an improvement.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, dropout and the validation split. The global
        torch random state is left as it was.
    verbose : int, default=0
        0 is silent; 1 prints a table with one line per epoch (training loss, validation
        loss and accuracy, seconds, ``*`` on the best epoch so far); 2 adds a tqdm progress
        bar over the batches of each epoch.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network trains; ``"auto"`` takes CUDA when torch sees it.
    warm_start : bool, default=False
        Continue training the fitted network for another ``max_epochs`` instead of starting
        over.
    distributed : bool, default=False
        Data-parallel :meth:`fit` across the processes of a ``torch.distributed`` job (one
        per GPU or CPU socket, on one or several machines), started by ``torchrun``. Every
        process runs the same script and calls ``fit`` on its own rows; they train one
        network, averaging gradients at every step, and every process ends with the same
        fitted estimator. Process 0's rows fit the field encoding; ``batch_size`` is each
        process's (``"auto"`` divides the one-process choice among the processes, so that
        the effective batch stays the same). See the "Scaling up" page of the docs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.
    field_transformer_ : FieldTransformer
        The fitted field transformer.
    field_spec_ : FieldSpec
        Field names, kinds and table sizes.
    module_ : AutoIntNet
        The trained torch network.
    n_iter_ : int
        Epochs run (over all warm starts).
    best_iteration_ : int
        Epoch whose weights the network holds.
    batch_size_ : int
        The batch size used (``batch_size``, or the ``"auto"`` choice).
    embedding_update_ : {"dense", "touched"}
        The embedding update used (``embedding_update``, or the ``"auto"`` choice).
    learning_rate_ : float
        The learning rate used (``learning_rate``, or the ``"auto"`` choice).
    history_ : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``valid_loss`` and ``valid_score``
        (accuracy, with early stopping), ``seconds`` and ``best``.

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
        "categorical_features": ["array-like", StrOptions({"from_dtype"}), None],
        "continuous": [StrOptions({"embed", "bucketize"})],
        "continuous_overrides": [dict, None],
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
        "field_transformer": [HasMethods(["fit", "transform"]), None],
        "n_bins": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 0, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "attention_dim": [Interval(Integral, 1, None, closed="left")],
        "residual": ["boolean"],
        "attention_scaling": ["boolean"],
        "layer_norm": ["boolean"],
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
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "warm_start": ["boolean"],
        "distributed": ["boolean"],
    }

    def __init__(self, *, categorical_features="from_dtype", continuous="bucketize",
                 continuous_overrides=None, min_frequency=2, max_categories=None,
                 n_bins="auto", field_transformer=None, embedding_dim=16, n_layers=3,
                 n_heads=2, attention_dim=32, residual=True, attention_scaling=False,
                 layer_norm=False, linear_term=False, mlp_hidden_units=(), dropout=0.0,
                 learning_rate="auto", batch_size="auto", max_epochs=100, weight_decay=0.0,
                 embedding_weight_decay=1e-3, embedding_update="auto", early_stopping="auto",
                 validation_fraction=0.1, n_iter_no_change=5, tol=1e-4, class_weight=None,
                 random_state=None, verbose=0, device="auto", warm_start=False,
                 distributed=False):
        self.categorical_features = categorical_features
        self.continuous = continuous
        self.continuous_overrides = continuous_overrides
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.n_bins = n_bins
        self.field_transformer = field_transformer
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.attention_dim = attention_dim
        self.residual = residual
        self.attention_scaling = attention_scaling
        self.layer_norm = layer_norm
        self.linear_term = linear_term
        self.mlp_hidden_units = mlp_hidden_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.weight_decay = weight_decay
        self.embedding_weight_decay = embedding_weight_decay
        self.embedding_update = embedding_update
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.warm_start = warm_start
        self.distributed = distributed

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Fit the field transformer and train the network.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training columns: categorical, numeric, or coded fields from a field transformer.
        y : array-like of shape (n_samples,)
            Class labels of any type (strings, integers, booleans).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (multiplied by ``class_weight``).
        X_val, y_val : DataFrame or array-like, default=None
            Validation rows for early stopping, instead of a split of ``X``.

        Returns
        -------
        self : AutoIntClassifier
            The fitted classifier.

        Raises
        ------
        TrainingDivergedError
            When the training loss becomes NaN or infinite. A first fit then leaves the
            estimator unfitted; a warm-start fit puts back the previous weights.

        Warns
        -----
        TrainingInterruptedWarning
            When ``KeyboardInterrupt`` stops training; the estimator keeps the best weights so
            far and is usable.
        """
        warm = self.warm_start and hasattr(self, "module_")
        X = check_field_input(self, X, reset=not warm)
        y = _check_labels(y, self, "y")
        check_consistent_length(X, y)
        check_classification_targets(y)
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both `X_val` and `y_val`, or neither.")
        _check_hidden_units(self.mlp_hidden_units)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        self.device_ = _resolve_device(self.device)  # fail before any encoding work
        group = join_process_group(self.device_) if self.distributed else LOCAL

        classes = group.union(np.unique(y))  # every process's labels
        y_encoded = np.searchsorted(classes, y)
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
        self.classes_ = classes
        if self.class_weight == "balanced":
            sample_weight = sample_weight * _balanced_weights(y_encoded, len(classes), group)
        elif self.class_weight is not None:
            sample_weight = sample_weight * compute_sample_weight(self.class_weight, y)

        rng = check_random_state(self.random_state)
        seed, split_seed = rng.randint(np.iinfo(np.int32).max, size=2)
        # the arrays are the only encoded copy of X that training keeps
        index, value = self._encode(X) if warm else self._fit_field_transformer(X, group)

        train_rows, valid_data = np.arange(len(y_encoded)), None
        if X_val is not None:
            valid_data = self._validation_from(X_val, y_val)
        elif self._early_stopping_enabled(group.total(len(y_encoded))):
            train_rows, valid_rows = _validation_split(
                y_encoded, self.validation_fraction, split_seed
            )
            valid_data = (index[valid_rows], value[valid_rows], y_encoded[valid_rows],
                          sample_weight[valid_rows])
        self._resolve_step_settings(group.total(len(train_rows)), group.world_size)
        self._train_encoded(index, value, y_encoded, sample_weight, train_rows, valid_data,
                            seed, warm, self.max_epochs, "fit", group)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on a chunk of rows, continuing from the network and optimizer
        state of the previous call: training on data larger than memory.

        The first call fixes what cannot change later. ``classes`` must list every label the
        data holds. The field encoding is fitted on the first chunk, or taken as it is from
        ``field_transformer`` when that is fitted (on a sample of the whole data, say):
        levels that encoding has not seen map to the unknown code, as at prediction time.
        ``batch_size="auto"`` and ``learning_rate="auto"`` follow the first chunk's size.
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
        if self.distributed:
            raise ValueError(
                "partial_fit does not train across processes: distributed=True is for fit. "
                "Train each chunk with fit(warm_start=True) in a torchrun job instead."
            )
        first = not hasattr(self, "module_")
        X = check_field_input(self, X, reset=first)
        y = _check_labels(y, self, "y")
        check_consistent_length(X, y)
        _check_hidden_units(self.mlp_hidden_units)
        self._set_partial_fit_classes(classes, first)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"`y` holds labels not in `classes`: {unknown.tolist()}.")
        y_encoded = np.searchsorted(self.classes_, y)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                             ensure_non_negative=True)
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one chunk does not "
                "show the class frequencies of the whole data. Pass a dict of class weights."
            )
        if self.class_weight is not None:
            sample_weight = sample_weight * compute_sample_weight(self.class_weight, y)
        if first:
            self.device_ = _resolve_device(self.device)
            index, value = self._fit_field_transformer(X)
            self._resolve_step_settings(len(y_encoded))
        else:
            index, value = self._encode(X)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        seed = (int(seed) + len(self.history_)) % np.iinfo(np.int32).max  # a new order per call
        self._train_encoded(index, value, y_encoded, sample_weight, np.arange(len(y_encoded)),
                            None, seed, not first, 1, "partial_fit")
        return self

    def _set_partial_fit_classes(self, classes, first):
        if classes is not None:
            classes = np.unique(_check_labels(classes, self, "classes"))
        if first:
            if classes is None:
                raise ValueError(
                    "Pass `classes` (every class label of the data) on the first call to "
                    "partial_fit."
                )
            if len(classes) < 2:
                raise ValueError(f"`classes` must hold at least 2 labels; got {classes.tolist()}.")
            self.classes_ = classes
        elif classes is not None and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"`classes` {classes.tolist()} differ from those of the first call "
                f"{self.classes_.tolist()}."
            )

    def _resolve_step_settings(self, n_rows, n_processes=1):
        """Set ``batch_size_`` (each process's) and ``learning_rate_``, the "auto" ones from
        ``n_rows`` (of all processes) and the effective batch of all processes."""
        self.batch_size_ = (max(1, auto_batch_size(n_rows) // n_processes)
                            if self.batch_size == "auto" else self.batch_size)
        self.learning_rate_ = (auto_learning_rate(self.batch_size_ * n_processes)
                               if self.learning_rate == "auto" else self.learning_rate)

    def _new_field_transformer(self):
        """An unfitted field transformer built from the field parameters."""
        return make_field_transformer(**{name: getattr(self, name) for name in _FIELD_PARAMS})

    def _fit_field_transformer(self, X, group=LOCAL):
        """Set ``field_transformer_`` and ``field_spec_`` from the first data; return its
        ``(index, value)`` arrays.

        ``field_transformer``, when fitted, is used as it is; unfitted, a clone is fitted
        (on process 0's rows, and sent to the other processes); without it, one is built
        from the field parameters.
        """
        given = self.field_transformer
        if given is not None and _is_fitted(given):
            self.field_transformer_ = given
            fields = given.transform(X)
        else:
            transformer = clone(given) if given is not None else self._new_field_transformer()
            if group.rank == 0:
                fields = transformer.fit_transform(X)
            transformer = group.broadcast(transformer)
            if group.rank != 0:
                fields = transformer.transform(X)
            self.field_transformer_ = transformer
        self.field_spec_ = FieldSpec.from_encoded(fields)
        self.history_ = []
        return self.field_spec_.to_arrays(fields)

    def _train_encoded(self, index, value, y_encoded, sample_weight, train_rows, valid_data,
                       seed, warm, max_epochs, caller, group=LOCAL):
        """Train on encoded rows: ``train_rows`` by position, ``valid_data`` for early
        stopping; a new network unless ``warm``; with the other processes of ``group``."""
        train_weight = sample_weight[train_rows]
        if group.min(len(train_rows)) == 0:  # checked in every process, so all stop
            raise ValueError(f"Process {group.rank}'s share of the training rows is empty; "
                             "every process of a distributed fit needs training rows.")
        weight_sum, n_weights = group.sum(
            torch.tensor([train_weight.sum(), len(train_weight)], dtype=torch.float64)
        ).tolist()
        if not weight_sum > 0:
            raise ValueError("The sample weights of the training rows sum to zero.")
        weight = sample_weight / (weight_sum / n_weights)

        to_tensors = _tensor_factory(self.device_)
        try:
            # All rows, the training ones picked by position: no second copy of the data.
            train_data = to_tensors(index, value, y_encoded, weight)
            if len(train_rows) < len(y_encoded):
                train_data.rows = torch.as_tensor(train_rows)
            valid_tensors = to_tensors(*valid_data) if valid_data is not None else None
        except torch.cuda.OutOfMemoryError as exc:
            raise torch.cuda.OutOfMemoryError(
                f"The encoded training data ({len(y_encoded)} rows x {index.shape[1]} fields) "
                f"does not fit in GPU memory ({exc}); train with device='cpu'."
            ) from exc

        devices = [torch.cuda.current_device()] if self.device_ == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(seed))
            if not warm:
                self.module_ = self._build_module(train_data, group)
                self._optimizer = None
            group.copy_parameters(self.module_)  # every process starts from process 0's
            generator = torch.Generator().manual_seed(int(seed) + group.rank)
            result = self._train_or_forget(train_data, valid_tensors, generator, warm,
                                           max_epochs, group)
        self.module_.eval()
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

    def _train_or_forget(self, train_data, valid_tensors, generator, warm, max_epochs,
                         group=LOCAL):
        """Run the training loop; when it diverges, never leave NaN weights behind."""
        before = ({k: v.detach().clone() for k, v in self.module_.state_dict().items()}
                  if warm else None)
        config = self._training_config(max_epochs)
        if group.rank != 0:
            config.verbose = 0  # one process reports
        try:
            result = train(
                self.module_, train_data, config,
                generator=generator, validation_data=valid_tensors,
                optimizer=self._optimizer, first_epoch=len(self.history_) + 1, group=group,
            )
        except TrainingDivergedError:
            if warm:  # back to the model of the previous fit
                self.module_.load_state_dict(before)
                self._optimizer = None
            else:
                self._forget_fit()
            raise
        self._optimizer = result.optimizer
        self.embedding_update_ = result.optimizer.embedding_update
        return result

    def _forget_fit(self):
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)
        self._optimizer = None

    def _early_stopping_enabled(self, n_samples):
        if self.early_stopping == "auto":
            return n_samples >= 200
        return bool(self.early_stopping)

    def _encode(self, X):
        return self.field_spec_.to_arrays(self.field_transformer_.transform(self._as_fitted(X)))

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

    def _validation_from(self, X_val, y_val):
        X_val = check_field_input(self, X_val, reset=False)
        y_val = _check_labels(y_val, self, "y_val")
        check_consistent_length(X_val, y_val)
        unknown = np.setdiff1d(y_val, self.classes_)
        if unknown.size:
            raise ValueError(f"`y_val` holds labels not seen in `y`: {unknown.tolist()}.")
        index, value = self._encode(X_val)
        target = np.searchsorted(self.classes_, y_val)
        return index, value, target, np.ones(len(target))

    def _training_config(self, max_epochs):
        return TrainingConfig(
            learning_rate=self.learning_rate_, batch_size=self.batch_size_,
            max_epochs=max_epochs, weight_decay=self.weight_decay,
            n_iter_no_change=self.n_iter_no_change, tol=self.tol, verbose=self.verbose,
            embedding_weight_decay=self.embedding_weight_decay,
            embedding_update=self.embedding_update,
        )

    def _build_module(self, train_data, group=LOCAL):
        spec = self.field_spec_
        self.module_params_ = dict(
            n_rows=spec.n_rows,
            n_fields=spec.n_fields,
            n_outputs=1 if len(self.classes_) == 2 else len(self.classes_),
            **{name: getattr(self, name) for name in _NETWORK_PARAMS},
        )
        self.module_params_["mlp_hidden_units"] = tuple(self.mlp_hidden_units)
        module = AutoIntNet(**self.module_params_)
        # Rows no training row uses (unseen-level codes, empty buckets) start at zero: "no
        # information" is a better prior for them than random noise.
        used = torch.zeros(spec.n_rows, dtype=torch.bool)
        rows = train_data.rows if train_data.rows is not None else torch.arange(len(train_data))
        for chunk in rows.split(2**16):
            used[train_data.index[chunk.to(train_data.index.device)].flatten().cpu()] = True
        used = group.any(used)  # rows of any process's data
        with torch.no_grad():
            module.embedding.weight[~used] = 0.0
        return module.to(self.device_)

    # ------------------------------------------------------------------ predict
    def _encode_for_inference(self, X):
        """Validate rows given after ``fit`` and encode them as ``(index, value)`` arrays."""
        check_is_fitted(self)
        return self._encode(check_field_input(self, X, reset=False))

    def _network_input(self, X):
        """Rows given after ``fit`` as TensorData on the network's device."""
        device = next(self.module_.parameters()).device
        return _tensor_factory(device)(*self._encode_for_inference(X))

    def _logits(self, X):
        return predict_logits(self.module_, self._network_input(X)).cpu().double().numpy()

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
        if self.n_layers == 0:
            raise ValueError("attention_weights needs n_layers >= 1; this model has none.")
        data = self._network_input(X)
        names = np.asarray(self.field_spec_.names, dtype=object)
        if not per_row:
            total = predict_attention(self.module_, data, summed=True)
            return Bunch(mean=(total / len(data)).cpu().numpy(), field_names=names)
        weights = predict_attention(self.module_, data).cpu().numpy()
        return Bunch(per_row=weights, mean=weights.mean(axis=0), field_names=names)

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
        logits = self._logits(X)
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
        logits = self._logits(X)
        if logits.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

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
            state["_module_checksum"] = _checksum(weights)
        state["_skautoint_version"] = __version__
        state["_skautoint_state_format"] = STATE_FORMAT
        return state

    def __setstate__(self, state):
        saved_version = state.pop("_skautoint_version", None)
        saved_format = state.pop("_skautoint_state_format", None)
        checksum = state.pop("_module_checksum", None)
        module_state = state.pop("module_state_", None)
        _check_saved_version(saved_version, saved_format)
        super().__setstate__(state)
        self._optimizer = None
        if module_state is None:
            return
        if checksum is None or _checksum(module_state) != checksum:
            raise ValueError(
                "The network weights in this saved AutoIntClassifier do not match their "
                "checksum: the file is corrupted. Save the model again from its source."
            )
        module = AutoIntNet(**self.module_params_)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in module_state.items()})
        self.module_ = module.eval()


def final_classifier(model, X):
    """The fitted AutoIntClassifier ``model`` is or ends with, and ``X`` transformed by the
    Pipeline steps before it (``X`` may be None)."""
    if hasattr(model, "steps"):
        if X is not None and len(model.steps) > 1:
            X = model[:-1].transform(X)
        model = model[-1]
    if not isinstance(model, AutoIntClassifier):
        raise TypeError(
            f"Expected a fitted AutoIntClassifier (or a Pipeline ending in one); got "
            f"{type(model).__name__}."
        )
    check_is_fitted(model)
    return model, X


def _checksum(weights):
    """CRC-32 of the weight arrays, to detect corrupted model files (not tampering)."""
    crc = 0
    for name in sorted(weights):
        crc = zlib.crc32(name.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(weights[name]).view(np.uint8).ravel(), crc)
    return crc


def _version_tuple(version):
    return tuple(int(part) for part in re.findall(r"\d+", str(version))[:3])


def _check_saved_version(saved_version, saved_format):
    """Refuse a state layout this version cannot read; warn when loading a newer model."""
    if saved_format is None or saved_format > STATE_FORMAT:
        raise ValueError(
            f"This AutoIntClassifier was saved by skautoint {saved_version or '(unknown)'} in "
            f"state format {saved_format}, which skautoint {__version__} cannot read (it reads "
            f"format {STATE_FORMAT}). Load it with skautoint {saved_version or 'as saved'}, or "
            "upgrade skautoint."
        )
    if _version_tuple(saved_version) > _version_tuple(__version__):
        warnings.warn(
            f"This AutoIntClassifier was saved by skautoint {saved_version} and is loaded by the "
            f"older skautoint {__version__}; it loads, but upgrading is safer.",
            InconsistentVersionWarning, stacklevel=3,
        )


def _check_labels(y, estimator, name):
    """``_check_y`` plus clear errors for missing labels and labels of mixed types."""
    y = _check_y(y, estimator=estimator)
    if y.dtype == object:
        missing = pd.isna(y)
        if missing.any():
            raise ValueError(
                f"`{name}` holds {int(missing.sum())} missing label(s) (None/NaN); every row "
                "needs a class label."
            )
        inferred = pd.api.types.infer_dtype(y, skipna=False)
        if inferred.startswith("mixed") and inferred != "mixed-integer-float":
            types = sorted({type(label).__name__ for label in y})
            raise ValueError(
                f"`{name}` mixes label types {types}; use one type for all labels, e.g. "
                f"`{name}.astype(str)`."
            )
    return y


def _check_hidden_units(units):
    if not all(isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in units):
        raise InvalidParameterError(
            f"The 'mlp_hidden_units' parameter of AutoIntClassifier must be a tuple of positive "
            f"ints. Got {units!r} instead."
        )


def _tensor_factory(device):
    """Build TensorData on ``device`` from NumPy arrays (targets and weights optional)."""
    def to_tensors(index, value, target=None, weight=None):
        return TensorData(
            index=torch.as_tensor(index, device=device),  # int32 from FieldSpec.to_arrays
            value=torch.as_tensor(value, dtype=torch.float32, device=device),
            target=None if target is None else torch.as_tensor(target, device=device).long(),
            weight=None if weight is None else torch.as_tensor(
                weight, dtype=torch.float32, device=device
            ),
        )
    return to_tensors


def _balanced_weights(y_encoded, n_classes, group):
    """``class_weight="balanced"`` from the class counts of every process's rows."""
    counts = group.sum(torch.as_tensor(np.bincount(y_encoded, minlength=n_classes))).numpy()
    return (counts.sum() / (n_classes * counts))[y_encoded]


def _validation_split(y_encoded, validation_fraction, seed):
    rows = np.arange(len(y_encoded))
    counts = np.bincount(y_encoded)
    stratify = y_encoded if counts.min() >= 2 else None
    try:
        return train_test_split(rows, test_size=validation_fraction, stratify=stratify,
                                random_state=seed)
    except ValueError:
        return train_test_split(rows, test_size=validation_fraction, random_state=seed)


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True
