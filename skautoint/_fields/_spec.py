"""FieldSpec: the encoded frame as the network's one-gather ``index`` and ``value`` arrays."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._kinds import is_coded_dtype


@dataclass(frozen=True)
class FieldSpec:
    """Sizes and offsets of the fields in the shared embedding table.

    A coded field with ``k`` codes owns ``k + 1`` rows (the last one takes codes outside
    ``0..k-1``, which only hand-made input can contain). An embedded field owns two rows: its
    vector and the vector for a missing value.

    Parameters
    ----------
    names : tuple of str
        Field names, in column order.
    kinds : tuple of str
        ``"coded"`` or ``"embed"`` per field.
    sizes : tuple of int
        Table rows owned by each field.
    """

    names: tuple
    kinds: tuple
    sizes: tuple

    @classmethod
    def from_encoded(cls, fields):
        """Read the spec off the field transformer's output.

        Parameters
        ----------
        fields : DataFrame
            Output of the field transformer: coded fields as category columns with
            categories ``0..k-1``, embedded fields as float columns.

        Returns
        -------
        spec : FieldSpec
            The spec of these fields.
        """
        kinds, sizes = [], []
        for name, dtype in fields.dtypes.items():
            if is_coded_dtype(dtype):
                kinds.append("coded")
                sizes.append(len(dtype.categories) + 1)
            elif pd.api.types.is_float_dtype(dtype):
                kinds.append("embed")
                sizes.append(2)
            else:
                raise TypeError(
                    f"Field {name!r} has dtype {dtype}: expected a coded field (category dtype "
                    "with categories 0..k-1) or a float field, as the field transformer emits."
                )
        return cls(tuple(str(c) for c in fields.columns), tuple(kinds), tuple(sizes))

    @property
    def n_fields(self):
        """Number of fields."""
        return len(self.names)

    @property
    def offsets(self):
        """First table row of each field, as an int64 array."""
        return np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)

    @property
    def table_rows(self):
        """Total rows of the shared embedding table."""
        return int(sum(self.sizes))

    def to_arrays(self, fields):
        """Turn encoded fields into the network's ``index`` and ``value`` arrays.

        Parameters
        ----------
        fields : DataFrame
            Output of the field transformer, with this spec's columns.

        Returns
        -------
        index : ndarray of int32 of shape (n_samples, n_fields)
            Row of the shared table for each field, offsets included (int64 only for tables of
            2**31 rows or more): with ``value``, 8 bytes per field and row.
        value : ndarray of float32 of shape (n_samples, n_fields)
            1.0 for coded fields and missing values, the scaled number for embedded fields.
        """
        if [str(c) for c in fields.columns] != list(self.names):
            raise ValueError(
                f"Encoded fields {list(fields.columns)} do not match the fitted fields "
                f"{list(self.names)}."
            )
        n = len(fields)
        index = np.empty((n, self.n_fields), dtype=np.int32 if self.table_rows < 2**31
                         else np.int64)
        value = np.ones((n, self.n_fields), dtype=np.float32)
        layout = zip(self.kinds, self.sizes, self.offsets, strict=True)
        for j, (kind, size, offset) in enumerate(layout):
            column = fields.iloc[:, j]
            if kind == "coded":
                codes = _coded_values(column)
                codes[(codes < 0) | (codes >= size - 1)] = size - 1
                index[:, j] = offset + codes
            else:
                x = column.to_numpy(dtype=np.float32, na_value=np.nan)
                missing = np.isnan(x)
                index[:, j] = offset + missing
                value[:, j] = np.where(missing, np.float32(1.0), x)
        return index, value


def _coded_values(column):
    """Integer code of every row of a coded category column; -1 where missing."""
    if not is_coded_dtype(column.dtype):
        raise TypeError(
            f"Field {column.name!r} should be a coded category column, got dtype {column.dtype}."
        )
    codes = column.cat.codes.to_numpy().astype(np.int64)
    categories = column.cat.categories.to_numpy().astype(np.int64)
    return np.where(codes >= 0, categories[codes], -1)


def encode_fields(transformer, X, spec=None, *, fit=False):
    """Encode raw rows with a fitted field transformer, as the network's input arrays.

    The one call from an estimator into the fields layer once the transformer is fitted: the
    transform, the spec and the uniform lookup arrays.

    Parameters
    ----------
    transformer : FieldTransformer
        A field transformer with pandas output, fitted (or fitted here with ``fit``).
    X : DataFrame or array-like of shape (n_samples, n_features)
        Raw rows.
    spec : FieldSpec, default=None
        The spec the fields must have (the one of ``fit``); read off the output when None.
    fit : bool, default=False
        Fit ``transformer`` on ``X`` first (in the same pass as the encoding).

    Returns
    -------
    spec : FieldSpec
        The fields' spec.
    index, value : ndarray of shape (n_samples, n_fields)
        As :meth:`FieldSpec.to_arrays` returns them.
    """
    fields = transformer.fit_transform(X) if fit else transformer.transform(X)
    if not isinstance(fields, pd.DataFrame):
        raise TypeError(
            f"The field transformer returned {type(fields).__name__}; skautoint reads the field "
            "sizes from a pandas DataFrame: call set_output(transform='pandas') on it."
        )
    spec = FieldSpec.from_encoded(fields) if spec is None else spec
    return (spec, *spec.to_arrays(fields))
