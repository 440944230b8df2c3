"""Look inside a fitted model: which fields interact (attention maps) and how training went.

Plots follow scikit-learn's Display pattern: ``Display.from_estimator(...)`` computes and
plots, ``display.plot(ax=...)`` re-plots, and the matplotlib objects are kept as ``ax_`` and
``figure_``. matplotlib is only imported when something is plotted.
"""

import itertools
import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._estimators import final_estimator
from ._fields import as_pandas

__all__ = ["AttentionMapDisplay", "TrainingCurveDisplay", "attention_entropy",
           "rank_field_pairs", "rank_interactions"]


def _select_map(mean, layer, head):
    """The (n_fields, n_fields) map of one layer and head; ``None`` averages that axis."""
    n_layers, n_heads = mean.shape[:2]
    for name, choice, count in [("layer", layer, n_layers), ("head", head, n_heads)]:
        if choice is not None and not 0 <= choice < count:
            raise ValueError(f"`{name}` must be None or in [0, {count - 1}]; got {choice}.")
    maps = mean if layer is None else mean[[layer]]
    maps = maps if head is None else maps[:, [head]]
    return maps.mean(axis=(0, 1))


def rank_field_pairs(attention, *, layer=None, head=None):
    """Rank pairs of distinct fields by how strongly they attend to each other.

    The strength of a pair ``{m, k}`` is ``a[m, k] + a[k, m]`` in the chosen map, so a pair
    counts whichever field attends to the other.

    Parameters
    ----------
    attention : Bunch
        The output of an estimator's ``attention_weights`` (its ``mean`` and
        ``field_names`` are used).
    layer : int or None, default=None
        Interacting layer; ``None`` averages the layers. Single layers are noisier: with one
        planted pairwise interaction among 8 fields (3 seeds, the paper's layer), the first
        layer ranked the true pair first by margins of 0.003-0.011, the mean over layers by
        0.05-0.11.
    head : int or None, default=None
        Attention head; ``None`` averages the heads.

    Returns
    -------
    pairs : DataFrame
        Columns ``field_a``, ``field_b`` and ``strength``, strongest pair first, one row per
        unordered pair of distinct fields.

    Examples
    --------
    >>> from skautoint import AutoIntClassifier
    >>> from skautoint.datasets import load_adult
    >>> from skautoint.inspection import rank_field_pairs
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = AutoIntClassifier(max_epochs=2, random_state=0).fit(X[:1000], y[:1000])
    >>> pairs = rank_field_pairs(clf.attention_weights(X[:200], per_row=False))
    >>> pairs.columns.tolist(), len(pairs) == 14 * 13 // 2
    (['field_a', 'field_b', 'strength'], True)
    """
    matrix = _select_map(np.asarray(attention["mean"]), layer, head)
    names = np.asarray(attention["field_names"], dtype=object)
    first, second = np.triu_indices(len(names), k=1)
    strength = matrix[first, second] + matrix[second, first]
    order = np.argsort(-strength, kind="stable")
    return pd.DataFrame({
        "field_a": names[first[order]],
        "field_b": names[second[order]],
        "strength": strength[order],
    })


def attention_entropy(attention):
    """How far each layer and head is from attending to every field equally.

    For every row and every field ``m`` of it, the entropy of its attention weights
    ``a[m, :]`` is divided by that of the uniform distribution, ``log(n_fields)``: 1 means
    the field mixes all fields with equal weights (its map explains nothing), values near 0
    that it attends to one field. Read this before an attention map: averaged maps of
    near-uniform attention still rank pairs, by differences in the third decimal.

    Parameters
    ----------
    attention : Bunch
        The output of an estimator's ``attention_weights`` with ``per_row=True`` (the entropy
        of an averaged map is not the average entropy).

    Returns
    -------
    entropy : DataFrame
        One row per layer and head: ``layer``, ``head``, ``relative_entropy`` (the mean over
        rows and fields, in [0, 1]) and ``top_weight`` (the median over rows and fields of
        the largest weight; ``1 / n_fields`` for uniform attention).

    Raises
    ------
    ValueError
        When ``attention`` holds no per-row maps.

    Examples
    --------
    >>> from skautoint import AutoIntClassifier
    >>> from skautoint.datasets import load_adult
    >>> from skautoint.inspection import attention_entropy
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = AutoIntClassifier(max_epochs=2, random_state=0).fit(X[:1000], y[:1000])
    >>> entropy = attention_entropy(clf.attention_weights(X[:200]))
    >>> entropy.columns.tolist(), len(entropy) == clf.n_layers * clf.n_heads
    (['layer', 'head', 'relative_entropy', 'top_weight'], True)
    """
    if "per_row" not in attention:
        raise ValueError("attention_entropy needs the per-row maps: call attention_weights "
                         "with per_row=True.")
    weights = np.asarray(attention["per_row"], dtype=np.float64)
    n_layers, n_heads, n_fields = weights.shape[1], weights.shape[2], weights.shape[-1]
    if n_fields < 2:
        raise ValueError("attention_entropy needs at least 2 fields; the model has "
                         f"{n_fields}.")
    entropy = -(weights * np.log(np.clip(weights, np.finfo(np.float64).tiny, None))).sum(-1)
    relative = entropy / np.log(n_fields)  # (rows, layers, heads, fields)
    layer, head = np.meshgrid(np.arange(n_layers), np.arange(n_heads), indexing="ij")
    return pd.DataFrame({
        "layer": layer.ravel(),
        "head": head.ravel(),
        "relative_entropy": relative.mean(axis=(0, 3)).ravel(),
        "top_weight": np.median(weights.max(axis=-1), axis=(0, 3)).ravel(),
    })


#: ``response_method`` of :func:`rank_interactions`, as in scikit-learn's partial dependence.
RESPONSE_METHODS = ("auto", "predict_proba", "decision_function", "predict")


def _response_function(estimator, response_method):
    """The estimator's method that :func:`rank_interactions` reads, as a function returning
    (n_rows, n_outputs); a binary classifier's probabilities are the positive class's."""
    if response_method not in RESPONSE_METHODS:
        raise ValueError(f"response_method must be one of {RESPONSE_METHODS}; got "
                         f"{response_method!r}.")
    names = (["predict_proba", "decision_function", "predict"] if response_method == "auto"
             else [response_method])
    name = next((name for name in names if hasattr(estimator, name)), None)
    if name is None:
        raise ValueError(f"{type(estimator).__name__} has none of the methods "
                         f"response_method={response_method!r} reads: {', '.join(names)}.")
    method = getattr(estimator, name)

    def response(X):
        values = np.asarray(method(X), dtype=np.float64).reshape(len(X), -1)
        return values[:, 1:] if name == "predict_proba" and values.shape[1] == 2 else values

    return response


def _level_codes(column):
    """Codes 0, 1, ... per row, equal where the cells are equal (every row its own code
    where cells, such as lists, cannot be compared as keys), and the first row of each."""
    try:
        codes, _ = pd.factorize(column, use_na_sentinel=False)
    except TypeError:  # unhashable cells (lists)
        codes = np.arange(len(column))
    _, first, codes = np.unique(codes, return_index=True, return_inverse=True)
    return codes, first


class _PartialDependence:
    """Centred partial dependence of a model on one column or a pair, at the sample's rows."""

    def __init__(self, response, sample, batch_rows):
        self.response, self.sample, self.batch_rows = response, sample, batch_rows

    def at_rows(self, columns, codes, first):
        """Mean response over the sample with ``columns`` set to each row's own values
        (``codes`` groups the rows whose values are equal; ``first`` is each code's row),
        centred over the rows: shape (n_rows, n_outputs)."""
        n = len(self.sample)
        per_code_rows = max(1, self.batch_rows // n)
        means = []
        for start in range(0, len(first), per_code_rows):
            chosen = first[start:start + per_code_rows]
            frame = self.sample.iloc[np.tile(np.arange(n), len(chosen))].reset_index(drop=True)
            for column in columns:
                values = self.sample[column].iloc[np.repeat(chosen, n)].reset_index(drop=True)
                frame[column] = values
            response = self.response(frame)
            means.append(response.reshape(len(chosen), n, -1).mean(axis=1))
        dependence = np.concatenate(means)[codes]
        return dependence - dependence.mean(axis=0)


def rank_interactions(estimator, X, *, columns=None, response_method="auto", n_rows=100,
                      random_state=None, batch_rows=50_000):
    """Rank pairs of columns by how much they interact in a fitted model's predictions.

    A model-agnostic measure, for any estimator that predicts on ``X`` (a skautoint model,
    a Pipeline, gradient boosting): Friedman and Popescu's H statistic, computed from partial
    dependence on a sample of rows. For a pair ``(j, k)``, ``PD_jk`` is the model's mean
    output over the sample with both columns set to a row's values, ``PD_j`` and ``PD_k`` the
    same for each column alone (each centred over the sample); what the pair adds beyond the
    two alone is ``PD_jk - PD_j - PD_k``, zero for a model additive in ``j`` and ``k``.

    The scale is part of the question: a model additive in probabilities is not additive in
    logits, and the reverse. ``response_method`` chooses, as in
    :func:`sklearn.inspection.partial_dependence` (probabilities by default).

    Unlike attention weights (:func:`rank_field_pairs`), this measures what the predictions
    do, whatever path of the network made them: on Adult with half the labels rewritten from
    two real columns, it ranked the planted pair first in 5 of 5 seeds, the averaged
    attention of the default model in 3 of 5 (of the paper's layer, nearly uniform: 4 of 5)
    (``benchmarks/bench_attention.py --planted``).

    Parameters
    ----------
    estimator : fitted estimator
        With ``decision_function``, ``predict_proba`` or ``predict`` on frames like ``X``.
    X : DataFrame
        Rows to sample from, with the columns the estimator was fitted on (polars and
        pyarrow frames are read as the equivalent pandas frame).
    columns : list of str, default=None
        The columns whose pairs are ranked; ``None`` takes every column. The cost grows with
        their number: about ``(n_columns + n_pairs) * n_rows**2`` predictions at most
        (fewer where a column has fewer distinct values in the sample than rows).
    response_method : {"auto", "predict_proba", "decision_function", "predict"}, \
            default="auto"
        The output whose interactions are measured: ``"auto"`` takes ``predict_proba``,
        else ``decision_function``, else ``predict``. A binary classifier's probabilities are
        those of its positive class; a multiclass model sums the squares over its classes.
    n_rows : int, default=100
        Rows sampled from ``X`` (all of them when ``X`` has fewer).
    random_state : int, RandomState instance or None, default=None
        Draws the sample.
    batch_rows : int, default=50_000
        Largest frame passed to the estimator at once.

    Returns
    -------
    pairs : DataFrame
        Columns ``field_a``, ``field_b``, ``strength`` (the root mean square over the sample
        of the pair's pure interaction ``PD_jk - PD_j - PD_k``, in the units of the chosen
        output) and ``h_squared`` (the same sum of squares over that
        of ``PD_jk``: the share of the pair's joint effect that is interaction, noisy where
        the joint effect is small), strongest pair first.

    Notes
    -----
    Partial dependence sets a column to values that may never occur with the rest of a row
    (a film with another film's release year): for columns that depend on each other, such
    as an identifier and its attributes, a pair's measure also reflects what the model does
    off the data. Both columns of a pair are set together, so ``PD_jk`` itself stays on
    observed pairs of values.

    Examples
    --------
    >>> from skautoint import AutoIntClassifier
    >>> from skautoint.datasets import load_adult
    >>> from skautoint.inspection import rank_interactions
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = AutoIntClassifier(max_epochs=2, random_state=0).fit(X[:1000], y[:1000])
    >>> pairs = rank_interactions(clf, X[:500], columns=["age", "sex", "education"],
    ...                           n_rows=30, random_state=0)
    >>> pairs.columns.tolist(), len(pairs)
    (['field_a', 'field_b', 'strength', 'h_squared'], 3)
    """
    X = as_pandas(X)
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"rank_interactions needs X as a DataFrame with column names; got "
                        f"{type(X).__name__}.")
    if isinstance(columns, str):
        raise TypeError(f"columns must be a list of column names; got the string {columns!r} "
                        f"(for one pair, write [{columns!r}, ...]).")
    columns = list(X.columns) if columns is None else list(columns)
    missing = [column for column in columns if column not in X.columns]
    if missing:
        raise ValueError(f"columns {missing} are not columns of X.")
    repeated = sorted({str(c) for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"columns names {repeated} more than once; each pair is of two "
                         "different columns.")
    if len(columns) < 2:
        raise ValueError(f"rank_interactions needs at least 2 columns; got {columns}.")
    if not (isinstance(n_rows, numbers.Integral) and n_rows >= 2):
        raise ValueError(f"n_rows must be an integer of at least 2; got {n_rows!r}.")
    if len(X) < 2:
        raise ValueError(f"X must have at least 2 rows to sample from; got {len(X)}.")
    rng = check_random_state(random_state)
    rows = (np.arange(len(X)) if len(X) <= n_rows
            else np.sort(rng.choice(len(X), size=n_rows, replace=False)))
    sample = X.iloc[rows].reset_index(drop=True)
    dependence = _PartialDependence(_response_function(estimator, response_method), sample,
                                    batch_rows)
    codes = {column: _level_codes(sample[column]) for column in columns}
    single = {column: dependence.at_rows([column], *codes[column]) for column in columns}
    records = []
    for a, b in itertools.combinations(columns, 2):
        pair_codes, first = _level_codes(codes[a][0] * len(sample) + codes[b][0])
        joint = dependence.at_rows([a, b], pair_codes, first)
        pure = joint - single[a] - single[b]
        squares = float((pure ** 2).sum())
        joint_squares = float((joint ** 2).sum())
        records.append({"field_a": a, "field_b": b,
                        "strength": np.sqrt(squares / len(sample)),
                        "h_squared": squares / joint_squares if joint_squares > 0 else 0.0})
    pairs = pd.DataFrame.from_records(records, columns=["field_a", "field_b", "strength",
                                                        "h_squared"])
    return pairs.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)


class AttentionMapDisplay:
    """Heatmap of one field-by-field attention map, fields labelled.

    Build it with :meth:`from_estimator`; the constructor takes a map already computed.

    Parameters
    ----------
    attention_map : ndarray of shape (n_fields, n_fields)
        Row ``m`` holds how much field ``m`` attends to each field.
    field_names : array-like of str of shape (n_fields,)
        Field names, in the order of both axes.
    pairs : DataFrame or None, default=None
        The field pairs ranked by :func:`rank_field_pairs`.
    title : str or None, default=None
        Axes title.

    Attributes
    ----------
    pairs_ : DataFrame
        Field pairs, strongest first (``field_a``, ``field_b``, ``strength``).
    image_ : matplotlib AxesImage
        The heatmap.
    ax_ : matplotlib Axes
        Axes holding the heatmap.
    figure_ : matplotlib Figure
        Figure holding the axes.
    """

    def __init__(self, attention_map, field_names, *, pairs=None, title=None):
        self.attention_map = np.asarray(attention_map)
        self.field_names = np.asarray(field_names, dtype=object)
        self.pairs_ = pairs
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, X, *, layer=None, head=None, row=None, ax=None,
                       scale="uniform", cmap=None, colorbar=True):
        """Compute the attention map of a fitted estimator on ``X`` and plot it.

        Parameters
        ----------
        estimator : AutoIntClassifier, AutoIntRegressor or Pipeline ending in one
            Fitted model with at least one interacting layer.
        X : DataFrame or array-like of shape (n_samples, n_features)
            Rows to explain, as the estimator takes them.
        layer : int or None, default=None
            Interacting layer; ``None`` averages the layers.
        head : int or None, default=None
            Attention head; ``None`` averages the heads.
        row : int or None, default=None
            Position of one row of ``X`` to explain; ``None`` averages the maps over ``X``.
        ax : matplotlib Axes, default=None
            Where to plot; a new figure when ``None``.
        scale, cmap, colorbar
            The colour scale, colour map and colour bar; see :meth:`plot`.

        Returns
        -------
        display : AttentionMapDisplay
            The plotted display.
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        model, X = final_estimator(estimator, X)
        if row is not None:
            X = as_pandas(X)  # polars or pyarrow: pick the row of the pandas frame
            X = X.iloc[[row]] if hasattr(X, "iloc") else np.asarray(X)[[row]]
        attention = model.attention_weights(X, per_row=False)
        what = "mean of rows" if row is None else f"row {row}"
        which_layer = "all layers" if layer is None else f"layer {layer}"
        which_head = "all heads" if head is None else f"head {head}"
        display = cls(
            _select_map(attention["mean"], layer, head), attention["field_names"],
            pairs=rank_field_pairs(attention, layer=layer, head=head),
            title=f"Attention: {which_layer}, {which_head}, {what}",
        )
        return display.plot(ax=ax, scale=scale, cmap=cmap, colorbar=colorbar)

    def plot(self, ax=None, *, scale="uniform", cmap=None, colorbar=True):
        """Plot the heatmap.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to plot; a new figure when ``None``.
        scale : {"uniform", "range"}, default="uniform"
            ``"uniform"``: a diverging scale centred on uniform attention, ``1 / n_fields``
            (white), from 0 to at least twice that, so that a map of near-uniform attention
            looks flat and a pair stands out only by what it really weighs. ``"range"``: the
            scale spans the map's own smallest to largest weight, which shows the order of
            weights however small their differences (differences in the third decimal then
            look as strong as a field that takes all the attention).
        cmap : str or Colormap, default=None
            Colour map; ``None`` takes ``"RdBu_r"`` with ``scale="uniform"`` and
            ``"viridis"`` with ``scale="range"``.
        colorbar : bool, default=True
            Draw a colour bar.

        Returns
        -------
        display : AttentionMapDisplay
            ``self``, with ``ax_``, ``figure_`` and ``image_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if scale not in ("uniform", "range"):
            raise ValueError(f"scale must be 'uniform' or 'range'; got {scale!r}.")
        if ax is None:
            size = 2.0 + 0.35 * len(self.field_names)
            _, ax = plt.subplots(figsize=(size + 1.5, size))
        if scale == "uniform":
            from matplotlib.colors import TwoSlopeNorm

            uniform = 1.0 / len(self.field_names)
            top = max(2 * uniform, float(np.max(self.attention_map)))
            self.image_ = ax.imshow(self.attention_map, cmap=cmap or "RdBu_r",
                                    norm=TwoSlopeNorm(vcenter=uniform, vmin=0.0, vmax=top))
        else:
            self.image_ = ax.imshow(self.attention_map, cmap=cmap or "viridis")
        ticks = np.arange(len(self.field_names))
        ax.set_xticks(ticks, labels=self.field_names, rotation=90)
        ax.set_yticks(ticks, labels=self.field_names)
        ax.set_xlabel("attended field")
        ax.set_ylabel("attending field")
        if self.title:
            ax.set_title(self.title)
        if colorbar:
            bar = ax.figure.colorbar(self.image_, ax=ax)
            if scale == "uniform":
                bar.set_label(f"attention weight (white: uniform, 1/{len(self.field_names)})")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class TrainingCurveDisplay:
    """Training and validation loss per epoch, the restored best epoch marked.

    Parameters
    ----------
    history : list of dict
        The estimator's ``history_``.
    loss_name : str, default="loss"
        The y-axis label: the name of the loss trained on (``from_estimator`` takes the
        estimator's, e.g. ``"log_loss"`` or ``"poisson"``).

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The plotted curves, keyed ``"train_loss"`` and, with early stopping, ``"valid_loss"``.
    ax_ : matplotlib Axes
        Axes holding the curves.
    figure_ : matplotlib Figure
        Figure holding the axes.
    """

    def __init__(self, history, loss_name="loss"):
        self.history = pd.DataFrame(history)
        self.loss_name = loss_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Plot the training history of a fitted estimator.

        Parameters
        ----------
        estimator : AutoIntClassifier, AutoIntRegressor or Pipeline ending in one
            Fitted model.
        ax : matplotlib Axes, default=None
            Where to plot; a new figure when ``None``.

        Returns
        -------
        display : TrainingCurveDisplay
            The plotted display.
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        model, _ = final_estimator(estimator, None)
        return cls(model.history_, loss_name=model._loss.name).plot(ax=ax)

    def plot(self, ax=None):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to plot; a new figure when ``None``.

        Returns
        -------
        display : TrainingCurveDisplay
            ``self``, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        self.lines_ = {}
        for column, label in [("train_loss", "training"), ("valid_loss", "validation")]:
            if column in self.history:
                (self.lines_[column],) = ax.plot(self.history["epoch"], self.history[column],
                                                 marker="o", markersize=3, label=label)
        best = self.history.loc[self.history["best"], "epoch"]
        if len(best):
            ax.axvline(best.iloc[-1], color="grey", linestyle="--", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(self.loss_name)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _require_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib: pip install matplotlib (or skautoint[plot])."
        ) from exc
