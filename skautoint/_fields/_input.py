"""Input checks and column access shared by the field encoders.

Frames keep their pandas dtypes (categories, strings, nullable types); anything else is checked
as an array with ``dtype=None``. Columns are read one at a time, by name, so every error can name
the column at fault.
"""

import sys

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array, validate_data


def _is_frame(X):
    return isinstance(X, pd.DataFrame)


def _check_not_sparse(X):
    if hasattr(X, "tocsr") and hasattr(X, "nnz"):  # scipy sparse matrix or array
        raise TypeError(
            "Sparse input is not supported: skautoint needs one value per column and row. "
            "Convert it with X.toarray() or pass a pandas DataFrame."
        )


def _check_frame(X):
    """Reject empty frames and duplicated column names (a field needs one name)."""
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(
            f"X has duplicated column names {duplicated}; every column becomes one field and "
            "needs a unique name. Rename or drop the duplicates."
        )
    n_samples, n_features = X.shape
    if n_features == 0:
        raise ValueError(
            f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if n_samples == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )


def as_pandas(data):
    """``data`` as pandas when it is a frame or series of another library narwhals knows
    (polars, pyarrow, modin, cuDF, ...): the equivalent pandas object, with the same column
    names and dtypes pandas would give the same data (categories, strings, nulls as NaN).

    Dates, times and durations are refused by column (pyarrow would hand dates over as
    Python objects, which would become levels); decimals become float64, the type pandas
    holds their numbers in. pandas objects and everything else (arrays, lists) are returned
    as they are; lazy frames are refused, since collecting them is the caller's choice.
    """
    if isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        return data
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and isinstance(data, pyarrow.RecordBatch):
        data = pyarrow.Table.from_batches([data])  # narwhals reads tables, not batches
    try:
        converted = nw.from_native(data, pass_through=True, allow_series=True)
    except nw.exceptions.DuplicateError as exc:
        raise ValueError(f"X has duplicated column names ({exc}); every column becomes one "
                         "field and needs a unique name. Rename or drop the duplicates.") from exc
    if isinstance(converted, nw.LazyFrame):
        raise TypeError(
            f"X is a lazy frame ({type(data).__module__}.{type(data).__name__}); skautoint "
            "reads eager frames. Collect it first (polars: X.collect(), Dask: X.compute())."
        )
    if isinstance(converted, nw.DataFrame):
        for name, dtype in converted.schema.items():
            if dtype.is_temporal():
                raise _not_encodable(name, dtype)
            if dtype == nw.Decimal:
                converted = converted.with_columns(nw.col(name).cast(nw.Float64))
    if isinstance(converted, (nw.DataFrame, nw.Series)):
        return converted.to_pandas()
    return data


def check_field_input(estimator, X, *, reset):
    """Validate ``X`` for a field encoder or estimator, keeping pandas dtypes.

    DataFrames are checked for shape and feature names but not converted, so categorical,
    string and nullable dtypes survive; frames of other libraries are read as the equivalent
    pandas frame (:func:`as_pandas`). Anything else goes through ``validate_data`` with
    ``dtype=None`` (object arrays stay object arrays, NaN is allowed).
    """
    X = as_pandas(X)
    _check_not_sparse(X)
    if _is_frame(X):
        _check_frame(X)
        return validate_data(estimator, X, skip_check_array=True, reset=reset)
    return validate_data(estimator, X, reset=reset, dtype=None, ensure_all_finite=False)


def _check_table(X):
    """``X`` checked as :func:`check_field_input` does, with no estimator to record it in.

    Frames are returned as they are (those of other libraries as pandas frames); anything
    else as an array (``dtype=None``, NaN allowed).
    """
    X = as_pandas(X)
    _check_not_sparse(X)
    if _is_frame(X):
        _check_frame(X)
        return X
    return check_array(X, dtype=None, ensure_all_finite=False)


def _column_names(X):
    """Column names as strings; ``x0, x1, ...`` for arrays (scikit-learn's convention)."""
    if _is_frame(X):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(X.shape[1])]


def _iter_columns(X):
    """Yield ``(name, values)`` for every column; values are a Series or a 1-D array.

    Dates, durations and complex numbers are refused here, so that ``transform`` refuses
    them as ``fit`` does.
    """
    for j, name in enumerate(_column_names(X)):
        values = X.iloc[:, j] if _is_frame(X) else X[:, j]
        check_supported_dtype(values.dtype, name)
        yield name, values


def check_supported_dtype(dtype, column):
    """Raise a clear error for dtypes no field encodes (dates, durations, complex)."""
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or _arrow_type_is(dtype, "is_temporal")):
        raise _not_encodable(column, dtype)
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(f"Complex data not supported; column {column!r} has dtype {dtype}.")


def _as_float(values, column):
    """Column values as float64, NaN for missing; a clear error for non-numbers."""
    try:
        if isinstance(values, pd.Series):
            return values.to_numpy(dtype="float64", na_value=np.nan)
        return np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Column {column!r} is treated as continuous but holds values that are not numbers "
            f"({exc}). Name it in `categorical_features` to encode it as a categorical field."
        ) from exc


def _not_encodable(column, dtype):
    return TypeError(
        f"Column {column!r} has dtype {dtype}, which skautoint does not encode. Convert it to "
        "numbers (e.g. a timestamp or day of week) or to strings first."
    )


def _arrow_type_is(dtype, predicate):
    """Whether ``dtype`` is a pandas ``ArrowDtype`` whose Arrow type passes
    ``pyarrow.types.<predicate>`` (``is_temporal``, ``is_dictionary``, ...)."""
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    import pyarrow

    return bool(getattr(pyarrow.types, predicate)(dtype.pyarrow_dtype))
