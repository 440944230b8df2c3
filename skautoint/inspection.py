"""Look inside a fitted model: which fields interact (attention maps) and how training went.

Plots follow scikit-learn's Display pattern: ``Display.from_estimator(...)`` computes and
plots, ``display.plot(ax=...)`` re-plots, and the matplotlib objects are kept as ``ax_`` and
``figure_``. matplotlib is only imported when something is plotted.
"""

import numpy as np
import pandas as pd

from ._estimators import final_estimator
from ._fields import as_pandas

__all__ = ["AttentionMapDisplay", "TrainingCurveDisplay", "rank_field_pairs"]


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
        planted pairwise interaction among 8 fields (3 seeds), the first layer ranked the
        true pair first by margins of 0.003-0.011, the mean over layers by 0.05-0.11.
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
                       cmap="viridis", colorbar=True):
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
        cmap : str or Colormap, default="viridis"
            Colour map of the heatmap.
        colorbar : bool, default=True
            Draw a colour bar.

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
        return display.plot(ax=ax, cmap=cmap, colorbar=colorbar)

    def plot(self, ax=None, *, cmap="viridis", colorbar=True):
        """Plot the heatmap.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to plot; a new figure when ``None``.
        cmap : str or Colormap, default="viridis"
            Colour map.
        colorbar : bool, default=True
            Draw a colour bar.

        Returns
        -------
        display : AttentionMapDisplay
            ``self``, with ``ax_``, ``figure_`` and ``image_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            size = 2.0 + 0.35 * len(self.field_names)
            _, ax = plt.subplots(figsize=(size + 1.5, size))
        # The colour scale spans the map's own range: attention near uniform (1 / n_fields)
        # still shows which fields stand out.
        self.image_ = ax.imshow(self.attention_map, cmap=cmap)
        ticks = np.arange(len(self.field_names))
        ax.set_xticks(ticks, labels=self.field_names, rotation=90)
        ax.set_yticks(ticks, labels=self.field_names)
        ax.set_xlabel("attended field")
        ax.set_ylabel("attending field")
        if self.title:
            ax.set_title(self.title)
        if colorbar:
            ax.figure.colorbar(self.image_, ax=ax)
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
