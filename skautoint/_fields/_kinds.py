"""Field kinds: which columns are coded, categorical, embedded or bucketized."""

from numbers import Integral

import numpy as np
import pandas as pd

from ._input import _arrow_type_is, _column_names, _is_frame, check_supported_dtype
from ._multivalued import holds_bags, weight_slot_of

CONTINUOUS_STRATEGIES = ("embed", "bucketize", "piecewise_linear")


def is_coded_dtype(dtype):
    """True for a category dtype whose categories are exactly the integers ``0..k-1``.

    That is what the field transformer emits for coded fields, so such columns are used as
    they are (the transformer is idempotent on its own output).
    """
    if not isinstance(dtype, pd.CategoricalDtype) or dtype.categories is None:
        return False
    categories = dtype.categories
    return (
        len(categories) > 0
        and pd.api.types.is_integer_dtype(categories.dtype)
        and bool(np.array_equal(categories.to_numpy(), np.arange(len(categories))))
    )


def _dtype_is_categorical(dtype):
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        # pandas on pyarrow: a category column read from Parquet, bytes
        or _arrow_type_is(dtype, "is_dictionary")
        or _arrow_type_is(dtype, "is_binary")
        or _arrow_type_is(dtype, "is_large_binary")
    )


def _categorical_mask(X, categorical_features):
    """Boolean mask of columns the user (or the dtypes) mark categorical."""
    n_features = X.shape[1]
    columns = list(X.columns) if _is_frame(X) else None
    if isinstance(categorical_features, str) and categorical_features == "from_dtype":
        dtypes = list(X.dtypes) if _is_frame(X) else [X.dtype] * n_features
        return np.array([_dtype_is_categorical(d) for d in dtypes], dtype=bool)
    if categorical_features is None:
        return np.zeros(n_features, dtype=bool)
    features = np.asarray(categorical_features)
    if features.dtype.kind == "b":
        if features.shape != (n_features,):
            raise ValueError(
                f"`categorical_features` as a boolean mask must have {n_features} entries, one "
                f"per column, got shape {features.shape}."
            )
        return features.astype(bool)
    mask = np.zeros(n_features, dtype=bool)
    for feature in categorical_features:
        if isinstance(feature, str):
            if columns is None or feature not in columns:
                where = "X has no column names" if columns is None else f"columns are {columns}"
                raise ValueError(
                    f"`categorical_features` names column {feature!r}, which is not in X ({where})."
                )
            mask[columns.index(feature)] = True
        elif isinstance(feature, Integral) and not isinstance(feature, bool):
            if not -n_features <= feature < n_features:
                raise ValueError(
                    f"`categorical_features` holds index {feature}, but X has {n_features} columns."
                )
            mask[feature] = True
        else:
            raise ValueError(
                "`categorical_features` must be 'from_dtype', None, a boolean mask, or a list of "
                f"column names or integer indices; got an entry {feature!r}."
            )
    return mask


def _override_strategies(X, continuous_overrides):
    """Map column position -> continuous strategy from the user's per-column overrides."""
    if not continuous_overrides:
        return {}
    columns = list(X.columns) if _is_frame(X) else None
    positions = {}
    for key, strategy in continuous_overrides.items():
        if strategy not in CONTINUOUS_STRATEGIES:
            raise ValueError(
                f"`continuous_overrides[{key!r}]` must be one of {CONTINUOUS_STRATEGIES}, "
                f"got {strategy!r}."
            )
        if columns is not None and key in columns:
            positions[columns.index(key)] = strategy
        elif isinstance(key, Integral) and not isinstance(key, bool) and 0 <= key < X.shape[1]:
            positions[int(key)] = strategy
        else:
            raise ValueError(
                f"`continuous_overrides` names column {key!r}, which is not a column of X."
            )
    return positions


def _declared_multi_valued(X, multi_valued_features):
    """Column positions that ``multi_valued_features`` declares multi-valued."""
    if not multi_valued_features:
        return set()
    columns = list(X.columns) if _is_frame(X) else None
    positions = set()
    for key, separator in multi_valued_features.items():
        if columns is None or key not in columns:
            where = "X has no column names" if columns is None else f"columns are {columns}"
            raise ValueError(f"`multi_valued_features` names column {key!r}, which is not in "
                             f"X ({where}).")
        if separator is not None and not (isinstance(separator, str) and separator):
            raise ValueError(
                f"`multi_valued_features[{key!r}]` must be the separator of its delimited "
                f"strings (a non-empty string), or None for cells that are lists; got "
                f"{separator!r}."
            )
        positions.add(columns.index(key))
    return positions


def _is_block_weight(X, j, name):
    """Whether column ``j`` is a weight column of a multi-valued block the field transformer
    emitted (``col:weight[i]`` beside a coded ``col[i]``), which passes through as it is."""
    slot = weight_slot_of(name)
    if slot is None or not _is_frame(X) or not pd.api.types.is_float_dtype(X.dtypes.iloc[j]):
        return False
    code = f"{slot[0]}[{slot[1]}]"
    return code in X.columns and is_coded_dtype(X[code].dtype)


def _holds_bags(X, j, dtype):
    if _arrow_type_is(dtype, "is_list") or _arrow_type_is(dtype, "is_large_list"):
        return True
    if not pd.api.types.is_object_dtype(dtype):
        return False
    return holds_bags(X.iloc[:, j] if _is_frame(X) else X[:, j])


def resolve_field_kinds(X, categorical_features="from_dtype", continuous="embed",
                        continuous_overrides=None, multi_valued_features=None):
    """Decide the field kind of every column of ``X``.

    Parameters
    ----------
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The input columns.
    categorical_features : "from_dtype", None, array-like of str or int, or bool mask
        Which columns are categorical. ``"from_dtype"`` takes ``category``, ``object``,
        string and ``bool`` columns (and, for arrays, an object or string dtype).
    continuous : {"embed", "bucketize", "piecewise_linear"}
        How the other (numeric) columns become fields.
    continuous_overrides : dict, default=None
        Per-column strategy that replaces ``continuous``, keyed by column name or index.
    multi_valued_features : dict, default=None
        Columns of delimited strings (name -> separator) or of lists (name -> None) to
        encode as multi-valued fields; object columns whose cells are lists, tuples, arrays
        or mappings are multi-valued without it.

    Returns
    -------
    kinds : list of str
        One of ``"coded"``, ``"categorical"``, ``"multi_valued"``, ``"embed"``,
        ``"bucketize"``, ``"piecewise_linear"`` per column.
    """
    if continuous not in CONTINUOUS_STRATEGIES:
        raise ValueError(
            f"`continuous` must be one of {CONTINUOUS_STRATEGIES}, got {continuous!r}."
        )
    categorical = _categorical_mask(X, categorical_features)
    overrides = _override_strategies(X, continuous_overrides)
    declared = _declared_multi_valued(X, multi_valued_features)
    dtypes = list(X.dtypes) if _is_frame(X) else [X.dtype] * X.shape[1]
    kinds = []
    for j, (name, dtype) in enumerate(zip(_column_names(X), dtypes, strict=True)):
        check_supported_dtype(dtype, name)
        if is_coded_dtype(dtype) or _is_block_weight(X, j, name):
            kinds.append("coded")
        elif j in declared or _holds_bags(X, j, dtype):
            kinds.append("multi_valued")
        elif categorical[j]:
            kinds.append("categorical")
        else:
            kinds.append(overrides.get(j, continuous))
        if j in overrides and kinds[-1] != overrides[j]:
            raise ValueError(
                f"`continuous_overrides` sets column {name!r} to {overrides[j]!r}, but it is "
                f"a {kinds[-1]} column (dtype {dtype}); overrides apply to numeric columns. "
                "Drop it from `continuous_overrides`, or convert the column to numbers."
            )
    return kinds


class FieldSelector:
    """Column selector for one field kind, used inside :class:`FieldTransformer`.

    Parameters
    ----------
    kind : {"coded", "categorical", "multi_valued", "embed", "bucketize", "piecewise_linear"}
        The field kind this selector picks.
    categorical_features, continuous, continuous_overrides, multi_valued_features
        As in :func:`resolve_field_kinds`.
    """

    def __init__(self, kind, categorical_features="from_dtype", continuous="embed",
                 continuous_overrides=None, multi_valued_features=None):
        self.kind = kind
        self.categorical_features = categorical_features
        self.continuous = continuous
        self.continuous_overrides = continuous_overrides
        self.multi_valued_features = multi_valued_features

    def __call__(self, X):
        kinds = resolve_field_kinds(
            X, self.categorical_features, self.continuous, self.continuous_overrides,
            getattr(self, "multi_valued_features", None),  # None: saved before 0.3
        )
        return [kind == self.kind for kind in kinds]

    def __repr__(self):
        return f"FieldSelector(kind={self.kind!r})"
