"""Categorical fields: ordinal codes with reserved codes for missing, unseen and rare levels."""

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, RealNotInt

from .._scalars import python_scalars
from ..exceptions import HighCardinalityWarning, LevelTypeChangedWarning
from ._coded import _CodedFieldEncoder
from ._input import _arrow_type_is, _iter_columns, check_field_input

#: Reserved codes of :class:`CategoricalFieldEncoder`; observed levels start at ``N_RESERVED``.
MISSING_CODE, UNKNOWN_CODE, RARE_CODE = 0, 1, 2
N_RESERVED = 3


def _level_sort_key(level):
    return (type(level).__name__, str(level))


def _arrow_strings(values):
    """The column as a pyarrow ChunkedArray when it is a pandas column of Arrow-backed strings
    (pandas 3's default ``str``, ``string[pyarrow]``, ``ArrowDtype(pa.string())``), else None."""
    if not isinstance(values, pd.Series):
        return None
    dtype = values.dtype
    arrow_backed = ((isinstance(dtype, pd.StringDtype) and dtype.storage != "python")
                    or _arrow_type_is(dtype, "is_string")
                    or _arrow_type_is(dtype, "is_large_string"))
    return values.array.__arrow_array__() if arrow_backed else None


class CategoricalFieldEncoder(_CodedFieldEncoder):
    """Ordinal-encode categorical columns with reserved codes for missing, unseen and rare levels.

    Code 0 is *missing* (NaN, None, ``pd.NA``), code 1 is *unknown* (a level not seen in
    ``fit``, including a level a ``category`` dtype declares but no row of ``fit`` holds),
    code 2 is *rare* (levels seen fewer than ``min_frequency`` times, or beyond the
    ``max_categories`` most frequent) and the frequent levels get codes 3, 4, ... in a
    deterministic order. Levels are compared by value, so ``1`` and ``"1"`` are different
    levels.

    Parameters
    ----------
    min_frequency : int or float, default=2
        Levels seen fewer times than this in ``fit`` share the rare code. A float in (0, 1) is a
        fraction of the number of rows.
    max_categories : int, default=None
        Keep at most this many frequent levels per column (the most frequent ones); the others
        share the rare code. ``None`` sets no cap.

    Attributes
    ----------
    categories_ : list of ndarray
        The frequent levels of each column, in code order (code = position + 3).
    infrequent_categories_ : list of ndarray
        The levels of each column that were sent to the rare code.
    n_codes_ : ndarray of int
        Number of codes of each column (reserved codes included).
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.

    Warns
    -----
    HighCardinalityWarning
        In ``fit``, when a column looks like an identifier (90% of its rows hold a level seen
        once) or when ``max_categories`` merges levels into the rare code.
    LevelTypeChangedWarning
        In ``transform``, when no value of a column matches a fitted level and the values are
        of another type than the fitted levels (e.g. integers where ``fit`` saw strings).

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoint._fields import CategoricalFieldEncoder
    >>> X = pd.DataFrame({"color": ["red", "red", "blue", None]})
    >>> CategoricalFieldEncoder(min_frequency=2).fit_transform(X).ravel().tolist()
    [3, 3, 2, 0]
    """

    _parameter_constraints: dict = {
        "min_frequency": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
    }

    #: A column with at least this many levels seen once, making up 90% of its rows, is
    #: reported as identifier-like.
    _identifier_min_singletons = 100

    #: Codes below this one are reserved; the frequent levels start here.
    _n_reserved = N_RESERVED

    def __init__(self, min_frequency=2, max_categories=None):
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the levels of each column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Categorical columns.
        y : None
            Ignored.

        Returns
        -------
        self : CategoricalFieldEncoder
            Fitted encoder.
        """
        X = check_field_input(self, X, reset=True)
        self._learn_levels(X.shape[0], [(name, _level_counts(values, name))
                                        for name, values in _iter_columns(X)])
        return self

    def _learn_levels(self, n_rows, column_counts):
        """Set the fitted vocabulary from ``(name, level counts)`` per column."""
        threshold = python_scalars(self.min_frequency)
        if isinstance(threshold, Real) and not isinstance(threshold, Integral):
            threshold = int(np.ceil(threshold * n_rows))
        self.categories_, self.infrequent_categories_ = [], []
        for name, counts in column_counts:
            self._warn_if_identifier(name, counts, threshold)
            kept = counts.to_numpy() >= threshold
            if self.max_categories is not None and kept.sum() > int(self.max_categories):
                kept = self._cap_levels(name, counts, kept)
            self.categories_.append(
                np.array(sorted(counts.index[kept], key=_level_sort_key), dtype=object)
            )
            self.infrequent_categories_.append(
                np.array(sorted(counts.index[~kept], key=_level_sort_key), dtype=object)
            )
        reserved = self._n_reserved
        self.n_codes_ = np.array([reserved + len(c) for c in self.categories_], dtype=np.int64)
        # Per column: the code of every level seen in fit, in the order of _level_index (last
        # entry: unseen).
        self.__dict__.pop("_level_index_cache", None)
        self.__dict__.pop("_arrow_levels_cache", None)
        self._level_codes = [
            np.concatenate([
                np.arange(reserved, reserved + len(frequent)),
                np.full(len(rare), RARE_CODE),
                [UNKNOWN_CODE],  # get_indexer's -1: not a known level
            ]).astype(np.int64)
            for frequent, rare in zip(self.categories_, self.infrequent_categories_, strict=True)
        ]

    @property
    def _level_index(self):
        """Per column, a hash index of every level seen in fit (frequent, then rare).

        Built on first use and not saved with the encoder, so a saved model holds arrays only.
        """
        index = self.__dict__.get("_level_index_cache")
        if index is None:
            index = [
                pd.Index(np.concatenate([frequent, rare]), dtype=object)
                for frequent, rare in zip(self.categories_, self.infrequent_categories_,
                                          strict=True)
            ]
            self.__dict__["_level_index_cache"] = index
        return index

    def _arrow_levels(self, j):
        """Column ``j``'s levels in the order of :attr:`_level_index` as a pyarrow array, or
        None when a level is not a ``str`` (Arrow strings cannot match it). Cached."""
        cache = self.__dict__.setdefault("_arrow_levels_cache", {})
        if j not in cache:
            import pyarrow

            levels = self._level_index[j]
            cache[j] = (pyarrow.array(list(levels), type=pyarrow.large_string())
                        if all(isinstance(level, str) for level in levels) else None)
        return cache[j]

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_level_index_cache", None)
        state.pop("_arrow_levels_cache", None)
        return state

    def _warn_if_identifier(self, name, counts, threshold):
        n_singletons = int((counts.to_numpy() == 1).sum())
        n_rows = int(counts.sum())
        if n_singletons < self._identifier_min_singletons or n_singletons < 0.9 * n_rows:
            return
        if threshold > 1:
            effect = (f"those levels share the rare code (min_frequency={self.min_frequency}), "
                      "so the column carries little information")
        else:
            effect = ("each of those levels gets an embedding row of its own that is trained "
                      "on one row (min_frequency=1); raise `min_frequency` or set "
                      "`max_categories`")
        warnings.warn(
            f"Column {name!r} looks like an identifier: {n_singletons} of its {n_rows} "
            f"non-missing rows hold a level seen only once; {effect}. Drop it if it is an ID.",
            HighCardinalityWarning, stacklevel=3,
        )

    def _cap_levels(self, name, counts, kept):
        # Most frequent first; ties broken by the level order, so the choice is deterministic.
        candidates = np.flatnonzero(kept)
        levels, n_seen = counts.index, counts.to_numpy()
        ranked = sorted(candidates, key=lambda i: (-n_seen[i], _level_sort_key(levels[i])))
        capped = np.zeros_like(kept)
        max_categories = int(self.max_categories)
        capped[ranked[:max_categories]] = True
        warnings.warn(
            f"Column {name!r} has {len(candidates)} levels seen at least min_frequency="
            f"{self.min_frequency} times; max_categories={self.max_categories} keeps the most "
            f"frequent and codes the other {len(candidates) - max_categories} as rare.",
            HighCardinalityWarning, stacklevel=3,
        )
        return capped

    def _encode_column(self, j, name, values):
        arrow = _arrow_strings(values)
        levels = None if arrow is None else self._arrow_levels(j)
        if levels is not None:
            # Arrow-backed strings are matched in Arrow (vectorised hashing; about 4x faster
            # than through Python objects); no cell can be a list or of another type.
            import pyarrow.compute as pc

            positions = pc.index_in(arrow, value_set=levels).fill_null(-1).to_numpy()
            codes = self._level_codes[j][positions]
            codes[arrow.is_null().to_numpy()] = MISSING_CODE
            return codes
        values = np.asarray(values, dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) == "mixed":  # maybe lists or tuples
            nested = [v for v in values if not pd.api.types.is_scalar(v)]
            if nested:
                raise TypeError(
                    f"Column {name!r} held scalar levels in fit but holds a "
                    f"{type(nested[0]).__name__} now ({nested[0]!r}); a column of lists is a "
                    "multi-valued field only when it is one in fit. Pass the column as in "
                    "fit, or refit with its cells as lists."
                )
        try:
            positions = self._level_index[j].get_indexer(values)
        except TypeError as exc:
            raise _not_levels(name, exc) from exc
        codes = self._level_codes[j][positions]
        missing = pd.isna(values)
        codes[missing] = MISSING_CODE
        if not missing.all() and (codes[~missing] == UNKNOWN_CODE).all():
            self._warn_if_type_changed(j, name, values[~missing])
        return codes

    def _warn_if_type_changed(self, j, name, present):
        fitted = pd.api.types.infer_dtype(self._level_index[j], skipna=True)
        now = pd.api.types.infer_dtype(present, skipna=True)
        if fitted != "empty" and _type_family(now) != _type_family(fitted):
            warnings.warn(
                f"Column {name!r} held {fitted} levels in fit but holds {now} values now; none "
                "of them matches a fitted level, so all are encoded as unseen. Convert the "
                "column to the type it had in fit.",
                LevelTypeChangedWarning, stacklevel=4,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def _level_counts(values, column):
    """Count the non-missing levels of a column; reject values that cannot be levels."""
    try:
        counts = pd.Series(values, copy=False).value_counts(dropna=True, sort=False)
    except TypeError as exc:
        raise _not_levels(column, exc) from exc
    # a category dtype counts the levels it declares but no row holds as 0: those are unseen
    counts = counts[counts.to_numpy() > 0]
    if counts.index.dtype == object:
        _check_scalar_levels([level for level in counts.index
                              if not pd.api.types.is_scalar(level)], column)
    return counts


def _not_levels(column, exc):
    return TypeError(
        f"Column {column!r} holds values that cannot be categorical levels ({exc}); levels "
        "must be scalars such as strings, numbers or booleans."
    )


def _check_scalar_levels(nested, column):
    """Raise a TypeError naming ``column`` when ``nested`` (its non-scalar values) is not
    empty."""
    if nested:
        raise TypeError(
            f"Column {column!r} holds values that cannot be categorical levels, e.g. "
            f"{nested[0]!r} of type {type(nested[0]).__name__}; levels must be scalars such "
            "as strings, numbers or booleans. Flatten or stringify the column first."
        )


def _type_family(inferred):
    """Group pandas' inferred value types into the kinds whose values can compare equal."""
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
        return "number"  # True == 1 and 1 == 1.0 in Python, so these can match each other
    return inferred
