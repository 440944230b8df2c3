"""FieldSpec: the encoded frame as the network's one-gather ``index`` and ``value`` arrays."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._kinds import is_coded_dtype
from ._multivalued import slot_names


@dataclass(frozen=True)
class FieldSpec:
    """Sizes and offsets of the fields in the shared embedding table.

    A coded field with ``k`` codes owns ``k + 1`` rows (the last one takes codes outside
    ``0..k-1``, which only hand-made input can contain). An embedded field owns two rows: its
    vector and the vector for a missing value. A multi-valued (``"bag"``) field with ``k``
    codes also owns ``k + 1`` rows, and takes ``slots`` columns of ``index`` and ``value``:
    one per level of a cell, the last row for unused slots (of weight 0).

    Parameters
    ----------
    names : tuple of str
        Field names, in column order.
    kinds : tuple of str
        ``"coded"``, ``"bag"`` or ``"embed"`` per field.
    sizes : tuple of int
        Table rows owned by each field.
    slots : tuple of int, default=None
        Columns of ``index`` and ``value`` per field; None: one each.
    """

    names: tuple
    kinds: tuple
    sizes: tuple
    slots: tuple = None

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
        kinds, sizes, slots, names = [], [], [], []
        columns = [str(c) for c in fields.columns]
        dtypes = list(fields.dtypes)
        j = 0
        while j < len(columns):
            name, dtype = columns[j], dtypes[j]
            n_slots = _block_slots(columns, dtypes, j)
            if n_slots:
                kinds.append("bag")
                sizes.append(len(dtype.categories) + 1)
                names.append(columns[j][:-len("[0]")])
            elif is_coded_dtype(dtype):
                kinds.append("coded")
                sizes.append(len(dtype.categories) + 1)
                names.append(name)
            elif pd.api.types.is_float_dtype(dtype):
                kinds.append("embed")
                sizes.append(2)
                names.append(name)
            else:
                raise TypeError(
                    f"Field {name!r} has dtype {dtype}: expected a coded field (category dtype "
                    "with categories 0..k-1) or a float field, as the field transformer emits."
                )
            slots.append(max(n_slots, 1))
            j += 2 * n_slots if n_slots else 1
        return cls(tuple(names), tuple(kinds), tuple(sizes),
                   tuple(slots) if "bag" in kinds
                   else None)

    @property
    def field_slots(self):
        """Columns of ``index`` and ``value`` per field."""
        return self.slots if self.slots is not None else (1,) * self.n_fields

    @property
    def n_slots(self):
        """Columns of ``index`` and ``value`` (the fields' slots together)."""
        return int(sum(self.field_slots))

    @property
    def slot_fields(self):
        """The field of every slot, as a tuple of int; None when every field has one slot."""
        if self.slots is None:
            return None
        return tuple(int(f) for f in np.repeat(np.arange(self.n_fields), self.field_slots))

    def _column_names(self):
        """The encoded columns this spec reads, in order."""
        return [column for name, kind, n in zip(self.names, self.kinds, self.field_slots,
                                                 strict=True)
                for column in (slot_names(name, n) if kind == "bag" else [name])]

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
        index : ndarray of int32 of shape (n_samples, n_slots)
            Row of the shared table for each slot (one per field, a multi-valued field's
            slots), offsets included (int64 only for tables of 2**31 rows or more): with
            ``value``, 8 bytes per slot and row.
        value : ndarray of float32 of shape (n_samples, n_slots)
            1.0 for coded fields and missing values, the scaled number for embedded fields,
            the pooling weight of each slot of a multi-valued field.
        """
        expected = self._column_names()
        if [str(c) for c in fields.columns] != expected:
            raise ValueError(
                f"Encoded fields {list(fields.columns)} do not match the fitted fields "
                f"{expected}."
            )
        n = len(fields)
        index = np.empty((n, self.n_slots), dtype=np.int32 if self.table_rows < 2**31
                         else np.int64)
        value = np.ones((n, self.n_slots), dtype=np.float32)
        layout = zip(self.kinds, self.sizes, self.offsets, self.field_slots, strict=True)
        column = slot = 0
        for kind, size, offset, n_slots in layout:
            if kind == "embed":
                x = fields.iloc[:, column].to_numpy(dtype=np.float32, na_value=np.nan)
                missing = np.isnan(x)
                index[:, slot] = offset + missing
                value[:, slot] = np.where(missing, np.float32(1.0), x)
            for i in range(n_slots if kind != "embed" else 0):
                codes = _coded_values(fields.iloc[:, column + i])
                codes[(codes < 0) | (codes >= size - 1)] = size - 1
                index[:, slot + i] = offset + codes
                if kind == "bag":
                    value[:, slot + i] = fields.iloc[:, column + n_slots + i].to_numpy(
                        dtype=np.float32, na_value=0.0)
            column += 2 * n_slots if kind == "bag" else 1
            slot += n_slots
        return index, value


def _block_slots(columns, dtypes, j):
    """Slots of the multi-valued block that starts at column ``j`` (``col[0]``, ...,
    ``col:weight[0]``, ...); 0 when no block starts there."""
    if not (columns[j].endswith("[0]") and is_coded_dtype(dtypes[j])):
        return 0
    stem = columns[j][:-len("[0]")]
    n_slots = 1
    while (j + n_slots < len(columns) and columns[j + n_slots] == f"{stem}[{n_slots}]"
           and dtypes[j + n_slots] == dtypes[j]):
        n_slots += 1
    weights = columns[j + n_slots:j + 2 * n_slots]
    if weights != slot_names(stem, n_slots)[n_slots:] or not all(
            pd.api.types.is_float_dtype(d) for d in dtypes[j + n_slots:j + 2 * n_slots]):
        return 0
    return n_slots


def _coded_values(column):
    """Integer code of every row of a coded category column; -1 where missing."""
    if not is_coded_dtype(column.dtype):
        raise TypeError(
            f"Field {column.name!r} should be a coded category column, got dtype {column.dtype}."
        )
    codes = column.cat.codes.to_numpy().astype(np.int64)
    categories = column.cat.categories.to_numpy().astype(np.int64)
    return np.where(codes >= 0, categories[codes], -1)


def encode_fields(transformer, X, spec=None, *, fit=False, y=None):
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
    y : array-like of shape (n_samples,), default=None
        The target ``fit`` passes on (for target statistics).

    Returns
    -------
    spec : FieldSpec
        The fields' spec.
    index, value : ndarray of shape (n_samples, n_slots)
        As :meth:`FieldSpec.to_arrays` returns them.
    """
    fields = transformer.fit_transform(X, y) if fit else transformer.transform(X)
    if not isinstance(fields, pd.DataFrame):
        raise TypeError(
            f"The field transformer returned {type(fields).__name__}; skautoint reads the field "
            "sizes from a pandas DataFrame: call set_output(transform='pandas') on it."
        )
    spec = FieldSpec.from_encoded(fields) if spec is None else spec
    return (spec, *spec.to_arrays(fields))
