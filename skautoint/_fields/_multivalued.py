"""Multi-valued fields: a column whose cells are bags of levels (lists, or level -> weight
mappings) becomes one field, encoded as a padded block of level codes and pooling weights."""

import re
import warnings
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..exceptions import TruncatedCellsWarning
from ._categorical import (
    MISSING_CODE,
    UNKNOWN_CODE,
    CategoricalFieldEncoder,
    _level_counts,
)
from ._coded import _refuse_polars
from ._input import _is_frame, _iter_columns, check_field_input

#: How the level vectors of a cell are pooled into the field's vector: their mean, their
#: sum, or their sum over the square root of their number (weights generalise each).
POOLINGS = ("mean", "sum", "sqrtn")

#: The code of an empty cell (an empty list, a mapping whose weights are all 0, an empty
#: delimited string); the frequent levels of a multi-valued column start after it.
EMPTY_CODE = 3

#: ``"auto"`` slots per cell: the longest cell of fit up to ``_AUTO_SLOT_FULL`` levels; beyond,
#: this quantile of the cell lengths (at least ``_AUTO_SLOT_FULL``, at most the cap).
_AUTO_SLOT_FULL, _AUTO_SLOT_QUANTILE, _AUTO_SLOT_CAP = 16, 0.99, 64

_CELL_TYPES = (list, tuple, np.ndarray, Mapping)


def slot_names(column, n_slots):
    """Output names of a multi-valued column's block: codes, then weights."""
    return ([f"{column}[{i}]" for i in range(n_slots)]
            + [f"{column}:weight[{i}]" for i in range(n_slots)])


def block_output(encoder, blocks, X):
    """Every column's block, ``(codes, weights)`` of shape (n_rows, n_slots) with code -1
    for an unused slot, in ``encoder``'s output container: an array (NaN for unused codes),
    or a frame of category code columns (categories ``0..n_codes-1``) and float32 weight
    columns named by ``encoder.get_feature_names_out()``. Polars is refused."""
    container = _refuse_polars(encoder)
    if container != "pandas":
        return np.hstack([np.hstack([np.where(codes < 0, np.nan, codes), weights])
                          for codes, weights in blocks])
    names, columns = iter(encoder.get_feature_names_out()), {}
    for (codes, weights), n_codes in zip(blocks, encoder.n_codes_, strict=True):
        categories = pd.RangeIndex(int(n_codes))
        for i in range(codes.shape[1]):
            columns[next(names)] = pd.Categorical.from_codes(codes[:, i], categories)
        for i in range(weights.shape[1]):
            columns[next(names)] = weights[:, i]
    return pd.DataFrame(columns, index=X.index if _is_frame(X) else None, copy=False)


_WEIGHT_NAME = re.compile(r"^(?P<column>.*):weight\[(?P<slot>\d+)\]$")


def weight_slot_of(name):
    """``(column, slot)`` when ``name`` names a weight column of a block, else None."""
    match = _WEIGHT_NAME.match(str(name))
    return (match["column"], int(match["slot"])) if match else None


def is_bag_cell(value):
    """Whether one cell is a bag of levels (a list, tuple, 1-D array or mapping)."""
    return isinstance(value, _CELL_TYPES)


def holds_bags(values):
    """Whether any cell of a column is a bag of levels (pandas' fast type scan first)."""
    values = np.asarray(values, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("mixed", "mixed-integer"):
        return False
    return any(is_bag_cell(v) for v in values)


class MultiValuedFieldEncoder(CategoricalFieldEncoder):
    """Encode columns whose cells are bags of levels as padded blocks of codes and weights.

    Each column shares one vocabulary over the levels of all its cells, with the reserved
    codes of :class:`CategoricalFieldEncoder` (0 missing, 1 unknown, 2 rare) and code 3 for
    an empty cell; the frequent levels get codes 4, 5, .... A column becomes ``n_slots``
    code columns and ``n_slots`` weight columns; the network multiplies each slot's level
    vector by its weight and adds them up, so the weights carry the pooling:

    - a list, tuple or 1-D array cell is a bag of levels of weight 1 each; a level that
      occurs twice counts twice (a bag, not a set); a missing value inside it is the missing
      level;
    - a mapping cell ``{level: weight}`` gives each level its weight (finite, at least 0; a
      level of weight 0 is left out);
    - a delimited string, for a column named in ``separators``, is split on its separator
      (nothing stripped; ``""`` is an empty cell);
    - a missing cell (None, NaN) is the missing code with weight 1, an empty cell the empty
      code with weight 1, so neither is confused with a cell of unseen levels;
    - a cell with more levels than slots keeps the levels most frequent in fit (ties: the
      first), and is pooled over those; unused slots have no code (NaN) and weight 0.

    Parameters
    ----------
    min_frequency : int or float, default=2
        Levels seen fewer times (counted over all cells) share the rare code; a float in
        (0, 1) is a fraction of the number of rows.
    max_categories : int, default=None
        Keep at most this many frequent levels per column.
    separators : dict, default=None
        Column name -> separator for columns of delimited strings, e.g. ``{"genres": "|"}``.
    pooling : {"mean", "sum", "sqrtn"}, default="mean"
        Pooling of a cell's level vectors: weights ``w / sum(w)``, ``w`` or
        ``w / sqrt(sum(w**2))``.
    max_levels_per_cell : int or "auto", default="auto"
        Slots per cell. ``"auto"`` takes the longest cell seen in fit when it holds at most 16
        levels, and otherwise the 99th percentile of the cell lengths (at least 16, at most
        64), so that a long tail of lengths does not pad every row to the longest; an integer
        caps the slots at that many (fewer when no cell of fit is that long).

    Attributes
    ----------
    categories_, infrequent_categories_, n_codes_, n_features_in_, feature_names_in_
        As for :class:`CategoricalFieldEncoder` (code = position + 4).
    n_slots_ : ndarray of int
        Slots per column.
    output_sources_ : ndarray of int
        For every output column, the input column it belongs to.

    Warns
    -----
    TruncatedCellsWarning
        In ``fit``, when some cells hold more levels than the slots (with how many).

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoint._fields import MultiValuedFieldEncoder
    >>> X = pd.DataFrame({"tags": [["a", "b"], ["a"], [], None]})
    >>> encoder = MultiValuedFieldEncoder(min_frequency=1).set_output(transform="pandas")
    >>> encoder.fit_transform(X).to_numpy().tolist()
    [[4.0, 5.0, 0.5, 0.5], [4.0, nan, 1.0, 0.0], [3.0, nan, 1.0, 0.0], [0.0, nan, 1.0, 0.0]]
    """

    _parameter_constraints: dict = {
        **CategoricalFieldEncoder._parameter_constraints,
        "separators": [dict, None],
        "pooling": [StrOptions(set(POOLINGS))],
        "max_levels_per_cell": [Interval(Integral, 1, None, closed="left"),
                                StrOptions({"auto"})],
    }

    _n_reserved = EMPTY_CODE + 1

    def __init__(self, min_frequency=2, max_categories=None, *, separators=None,
                 pooling="mean", max_levels_per_cell="auto"):
        super().__init__(min_frequency=min_frequency, max_categories=max_categories)
        self.separators = separators
        self.pooling = pooling
        self.max_levels_per_cell = max_levels_per_cell

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn each column's vocabulary and number of slots.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Multi-valued columns.
        y : None
            Ignored.

        Returns
        -------
        self : MultiValuedFieldEncoder
            Fitted encoder.
        """
        self._fit_bags(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then encode the same rows, reading their cells once.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Multi-valued columns.
        y : None
            Ignored.

        Returns
        -------
        blocks : ndarray of float64 or DataFrame
            As :meth:`transform` returns them.
        """
        X, bags = self._fit_bags(X)
        return block_output(self, [self._encode_bags(j, name, bag)
                                   for j, (name, bag) in enumerate(bags)], X)

    def _fit_bags(self, X):
        """Fit on ``X``; return it checked, with every column's ``(name, bags)``."""
        X = check_field_input(self, X, reset=True)
        bags = [(name, _read_bags(values, name, self._separator(name)))
                for name, values in _iter_columns(X)]
        counts = [(name, _level_counts(bag.levels, name)) for name, bag in bags]
        self._learn_levels(X.shape[0], counts)
        self.n_slots_ = np.array([self._slots_for(name, bag.lengths) for name, bag in bags],
                                 dtype=np.int64)
        self.output_sources_ = np.repeat(np.arange(len(bags)), 2 * self.n_slots_)
        # per column, how often each level of _level_index was seen (last entry: unseen),
        # which decides the levels a cell longer than its slots keeps
        self._fit_counts = [
            np.concatenate([column_counts.reindex(index).to_numpy(dtype=np.int64), [0]])
            for (_, column_counts), index in zip(counts, self._level_index, strict=True)
        ]
        return X, bags

    def _separator(self, name):
        return None if self.separators is None else self.separators.get(name)

    def _slots_for(self, name, lengths):
        longest = int(lengths.max(initial=1))
        if self.max_levels_per_cell == "auto" and longest <= _AUTO_SLOT_FULL:
            slots = longest
        elif self.max_levels_per_cell == "auto":
            quantile = int(np.ceil(np.quantile(lengths, _AUTO_SLOT_QUANTILE)))
            slots = min(max(quantile, _AUTO_SLOT_FULL), _AUTO_SLOT_CAP)
        else:
            slots = min(int(self.max_levels_per_cell), longest)
        slots = max(slots, 1)
        n_longer = int((lengths > slots).sum())
        if n_longer:
            warnings.warn(
                f"Column {name!r}: {n_longer} of {len(lengths)} cells hold more than "
                f"{slots} levels (the longest {longest}); they keep their {slots} levels most "
                "frequent in fit. Set `max_levels_per_cell` to keep more.",
                TruncatedCellsWarning, stacklevel=4,
            )
        return slots

    def transform(self, X):
        """Encode each column as its block of slot codes and slot weights.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Multi-valued columns, as in ``fit``.

        Returns
        -------
        blocks : ndarray of float64 or DataFrame
            Per column, ``n_slots`` codes (NaN in unused slots) then ``n_slots`` weights;
            with pandas output, code columns of category dtype (categories
            ``0..n_codes-1``) and float32 weight columns.
        """
        check_is_fitted(self)
        X = check_field_input(self, X, reset=False)
        blocks = [self._encode_bags(j, name, _read_bags(values, name, self._separator(name),
                                                        fitted=True))
                  for j, (name, values) in enumerate(_iter_columns(X))]
        return block_output(self, blocks, X)

    def _encode_bags(self, j, name, bag):
        """``(codes, weights)`` of shape (n_rows, n_slots) for one column's bags."""
        n_rows, n_slots = len(bag.lengths), int(self.n_slots_[j])
        try:
            positions = self._level_index[j].get_indexer(bag.levels)
        except TypeError as exc:
            raise TypeError(f"Column {name!r} holds levels that cannot be compared with the "
                            f"levels of fit ({exc}).") from exc
        codes = self._level_codes[j][positions]
        codes[pd.isna(bag.levels)] = MISSING_CODE
        if len(codes) and (codes == UNKNOWN_CODE).all():
            self._warn_if_type_changed(j, name, bag.levels)
        # cells with no level at all: one slot, the missing or the empty code, weight 1
        row = np.repeat(np.arange(n_rows), bag.lengths)
        lone = np.flatnonzero(bag.lengths == 0)
        row = np.concatenate([row, lone])
        codes = np.concatenate([codes, np.where(bag.missing[lone], MISSING_CODE, EMPTY_CODE)])
        weight = np.concatenate([bag.weights, np.ones(len(lone))])
        seen = np.concatenate([self._fit_counts[j][positions], np.zeros(len(lone))])
        # in each row, the levels most frequent in fit first (stable: ties keep their order)
        order = np.lexsort((-seen, row))
        row, codes, weight = row[order], codes[order], weight[order]
        starts = np.searchsorted(row, np.arange(n_rows))
        slot = np.arange(len(row)) - starts[row]
        kept = slot < n_slots
        row, codes, weight, slot = row[kept], codes[kept], weight[kept], slot[kept]
        weight = weight / _pooling_norm(self.pooling, row, weight, n_rows)[row]
        block_codes = np.full((n_rows, n_slots), -1, dtype=np.int64)
        block_weights = np.zeros((n_rows, n_slots), dtype=np.float32)
        block_codes[row, slot] = codes
        block_weights[row, slot] = weight
        return block_codes, block_weights

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``col[i]`` codes, then ``col:weight[i]`` weights.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input column names; by default those seen in ``fit``.

        Returns
        -------
        names : ndarray of str
            ``2 * n_slots`` names per column.
        """
        check_is_fitted(self)
        columns = super().get_feature_names_out(input_features)
        return np.asarray([name for column, n in zip(columns, self.n_slots_, strict=True)
                           for name in slot_names(column, int(n))], dtype=object)


class _Bags:
    """A column's cells flattened: ``levels`` and ``weights`` of every level (in cell order),
    ``lengths`` (levels per cell) and ``missing`` (cells that were missing)."""

    def __init__(self, levels, weights, lengths, missing):
        self.levels, self.weights, self.lengths, self.missing = levels, weights, lengths, missing


def _read_bags(values, column, separator, fitted=False):
    """Flatten one column's cells, refusing what is not a bag of scalar levels."""
    cells = np.asarray(values, dtype=object)
    levels, weights, lengths = [], [], np.zeros(len(cells), dtype=np.int64)
    missing = np.zeros(len(cells), dtype=bool)
    for i, cell in enumerate(cells):
        if separator is not None and isinstance(cell, str):
            cell = cell.split(separator) if cell else []
        if isinstance(cell, Mapping):
            items = [(level, w) for level, w in cell.items() if _checked_weight(w, column, i)]
            cell_levels = [level for level, _ in items]
            weights.extend(float(w) for _, w in items)
        elif isinstance(cell, (list, tuple, np.ndarray)):
            cell_levels = cell.tolist() if isinstance(cell, np.ndarray) else list(cell)
            weights.extend([1.0] * len(cell_levels))
        elif cell is None or (pd.api.types.is_scalar(cell) and pd.isna(cell)):
            missing[i] = True
            continue
        else:
            raise _not_a_bag(column, i, cell, separator, fitted)
        for level in cell_levels:
            if not pd.api.types.is_scalar(level):
                raise TypeError(
                    f"Column {column!r} is multi-valued, but row {i} holds the level "
                    f"{level!r} of type {type(level).__name__}; levels inside a cell must be "
                    "scalars (nested lists are not flattened). Flatten the cells first."
                )
        levels.extend(cell_levels)
        lengths[i] = len(cell_levels)
    levels = np.asarray([*levels, None], dtype=object)[:-1]  # keeps tuples of levels 1-D
    _check_one_level_type(levels, column)
    return _Bags(levels, np.asarray(weights, dtype=np.float64), lengths, missing)


def _checked_weight(weight, column, row):
    """True for a positive weight, False for 0; refuse anything else."""
    if (isinstance(weight, (bool, np.bool_)) or not isinstance(weight, Real)
            or not np.isfinite(weight) or weight < 0):
        raise ValueError(
            f"Column {column!r}, row {row}: a weighted cell maps levels to weights, which must "
            f"be finite numbers of at least 0; got {weight!r}."
        )
    return weight > 0


def _check_one_level_type(levels, column):
    """Refuse a column whose levels mix strings with numbers (or booleans)."""
    present = levels[~pd.isna(levels)] if len(levels) else levels
    kind = pd.api.types.infer_dtype(present, skipna=True)
    if kind in ("mixed", "mixed-integer", "mixed-integer-float"):
        if kind == "mixed-integer-float":
            return  # 1 and 1.0 are the same number
        kinds = sorted({type(v).__name__ for v in present})
        raise TypeError(
            f"Column {column!r} is multi-valued, and its cells mix levels of types {kinds}; "
            "the levels of a column must share one type (1 and '1' would be different "
            "levels). Convert them to one type first."
        )


def _not_a_bag(column, row, cell, separator, fitted):
    if separator is not None:
        expected = f"strings delimited by {separator!r} (or lists)"
    else:
        expected = "lists, tuples, 1-D arrays or {level: weight} mappings"
    when = " as in fit" if fitted else ""
    return TypeError(
        f"Column {column!r} is multi-valued (its cells are bags of levels{when}), but row "
        f"{row} holds the scalar {cell!r} of type {type(cell).__name__}; every cell must be "
        f"one of {expected}, or missing. Wrap single levels in a list, e.g. [{cell!r}]."
    )


def _pooling_norm(pooling, row, weight, n_rows):
    """Per row, what its slot weights are divided by."""
    if pooling == "sum":
        return np.ones(n_rows)
    if pooling == "mean":
        norm = np.bincount(row, weights=weight, minlength=n_rows)
    else:
        norm = np.sqrt(np.bincount(row, weights=weight * weight, minlength=n_rows))
    return np.where(norm > 0, norm, 1.0)
