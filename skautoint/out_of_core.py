"""Training on data larger than memory: a Parquet dataset, chunk by chunk, through
:meth:`~skautoint.AutoIntClassifier.partial_fit` (or the regressor's).

Memory holds one chunk at a time (its Arrow batch, its DataFrame and its encoded arrays), the
Parquet row group being decoded, and the network; the field encoding is fitted once, on a
random sample of rows, before the first chunk. Parquet is read a row group at a time: write
row groups no larger than the chunks (pyarrow's default is 1,048,576 rows) to bound memory.
Needs the ``parquet`` extra (``pyarrow``).
"""

import numbers

import numpy as np
from sklearn.base import is_regressor
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state

__all__ = ["iter_parquet_chunks", "partial_fit_parquet", "sample_parquet"]


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.dataset
        import pyarrow.parquet
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading Parquet needs pyarrow: pip install 'skautoint[parquet]'."
        ) from exc
    return pyarrow


def _dataset(source):
    """The Parquet dataset at ``source``, refused clearly when it is no such thing."""
    pyarrow = _pyarrow()
    try:
        dataset = pyarrow.dataset.dataset(source, format="parquet")
    except pyarrow.ArrowInvalid as exc:
        raise ValueError(f"{source} is not readable as Parquet data ({exc}).") from exc
    if not dataset.files:
        raise ValueError(f"{source} holds no Parquet file: nothing to read.")
    return dataset


def _split_target(frame, target):
    return frame.drop(columns=target), frame[target]


def _check_count(value, name):
    """Raise unless ``value`` is an integer of at least 1, naming the parameter ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an integer of at least 1; got {value!r}.")
    return int(value)


def _names(dataset, target, columns):
    """The columns to read (None for all), checked against the dataset's schema."""
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise TypeError(f"`columns` must be a list of column names (str); got {columns!r}.")
        columns = list(columns)
    stored = dataset.schema.names
    if target not in stored:
        raise ValueError(f"The target column {target!r} is not in the Parquet data, whose "
                         f"columns are {stored}.")
    missing = [name for name in columns or [] if name not in stored]
    if missing:
        raise ValueError(f"`columns` names {missing}, which the Parquet data does not hold; "
                         f"its columns are {stored}.")
    return None if columns is None else [*columns, target]


def _check_file_schema(path, schema, expected, names):
    """Raise a ValueError naming ``path`` when its columns differ from the first file's
    (``expected``): missing, or of another kind of values. Integers and floating point mix
    freely, as do dictionary-encoded columns of the same values (pandas writes a category
    column's codes as int8 or int16 by its number of levels) and all-null columns."""
    for name in names:
        if name not in schema.names:
            raise ValueError(f"The Parquet file {path} has no column {name!r}; every file "
                             f"must hold the columns read, {list(names)}.")
        have, want = schema.field(name).type, expected.field(name).type
        kinds = {_value_kind(have), _value_kind(want)}
        if len(kinds) > 1 and "null" not in kinds:
            raise ValueError(f"The column {name!r} is {have} in the Parquet file {path} but "
                             f"{want} in the first file; every file must hold the same types.")


def _value_kind(arrow_type):
    """What a column's values are, for :func:`_check_file_schema`."""
    types = _pyarrow().types
    if types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if types.is_null(arrow_type):
        return "null"
    if types.is_integer(arrow_type) or types.is_floating(arrow_type):
        return "number"
    if types.is_string(arrow_type) or types.is_large_string(arrow_type):
        return "string"
    return str(arrow_type)


def _stored_columns(schema):
    """The columns of a file's ``schema``, without the index pandas stores beside them."""
    metadata = schema.pandas_metadata or {}
    index = {c for c in metadata.get("index_columns", []) if isinstance(c, str)}
    return [name for name in schema.names if name not in index]


def iter_parquet_chunks(source, *, target, chunk_rows=500_000, columns=None):
    """Yield ``(X, y)`` DataFrames of at most ``chunk_rows`` rows, in file order.

    Parameters
    ----------
    source : str, path or list of paths
        A Parquet file, a directory of Parquet files, or a list of files. The columns stored
        in the files are read, not those a partitioned folder layout names (``year=2024/``).
    target : str
        Column of the labels.
    chunk_rows : int, default=500_000
        Largest number of rows per chunk (chunks can be smaller at row-group ends).
    columns : list of str, default=None
        Feature columns to read; all but ``target`` when None.

    Yields
    ------
    X : DataFrame
        The chunk's feature columns.
    y : Series
        Its labels.
    """
    chunk_rows = _check_count(chunk_rows, "chunk_rows")
    dataset = _dataset(source)
    names = _names(dataset, target, columns)
    for batch in _batches(dataset, names, chunk_rows):
        if batch.num_rows:
            yield _split_target(batch.to_pandas(), target)


def _batches(dataset, names, batch_rows):
    """The dataset's record batches, file by file, each decoded only when asked for.

    ``Dataset.to_batches`` decodes ahead in background threads while the caller trains: even
    at its smallest read-ahead it held 1.6 GB of decoded row groups on 10M rows. Reading each
    file's row groups as they are asked for keeps one batch in memory. Columns that exist only
    in the folder names of a partitioned dataset are not read.

    ``pre_buffer`` is off: its cache keeps every byte range read until the file is closed,
    25 MB more per 500,000 rows on the benchmark's data.
    """
    pyarrow = _pyarrow()
    pool = pyarrow.default_memory_pool()
    expected = None
    for path in dataset.files:
        with dataset.filesystem.open_input_file(path) as handle:
            reader = pyarrow.parquet.ParquetFile(handle, pre_buffer=False)
            if expected is None:
                expected = reader.schema_arrow
                names = _stored_columns(expected) if names is None else names
            _check_file_schema(path, reader.schema_arrow, expected, names)
            for batch in reader.iter_batches(batch_size=batch_rows, columns=names):
                yield batch
                del batch
                pool.release_unused()  # mimalloc and jemalloc keep freed memory otherwise


def sample_parquet(source, n_rows, *, target, columns=None, random_state=None):
    """A uniform random sample of ``n_rows`` rows (all rows when there are fewer).

    Parameters
    ----------
    source : str, path or list of paths
        A Parquet file, a directory of Parquet files, or a list of files.
    n_rows : int
        Rows to draw, without replacement.
    target : str
        Column of the labels.
    columns : list of str, default=None
        Feature columns to read; all but ``target`` when None.
    random_state : int, RandomState instance or None, default=None
        Source of the sample.

    Returns
    -------
    X : DataFrame
    y : Series
    """
    n_rows = _check_count(n_rows, "n_rows")
    dataset = _dataset(source)
    names = _names(dataset, target, columns)
    total = dataset.count_rows()
    if total == 0:
        raise ValueError(f"The Parquet data at {source} holds no rows.")
    rng = check_random_state(random_state)
    rows = np.sort(rng.choice(total, size=min(n_rows, total), replace=False))
    # One pass over small batches, keeping the drawn rows of each: memory stays at one batch
    # plus the sample (Dataset.take decoded whole row groups at once).
    picked, begin = [], 0
    for batch in _batches(dataset, names, 65_536):
        end = begin + batch.num_rows
        inside = rows[np.searchsorted(rows, begin):np.searchsorted(rows, end)]
        if inside.size:
            picked.append(batch.take(inside - begin))
        begin = end
    return _split_target(_concat([_pyarrow().Table.from_batches([b]) for b in picked])
                         .to_pandas(), target)


def _concat(tables):
    """One table of ``tables``, whose types may differ as :func:`_check_file_schema` lets
    them: integers beside floats, nulls beside anything, category codes of another width or
    beside plain strings (then decoded)."""
    pyarrow = _pyarrow()
    try:
        return pyarrow.concat_tables(tables, promote_options="permissive")
    except pyarrow.ArrowInvalid:
        decoded = [table.cast(pyarrow.schema([
            field.with_type(field.type.value_type) if pyarrow.types.is_dictionary(field.type)
            else field for field in table.schema])) for table in tables]
        return pyarrow.concat_tables(decoded, promote_options="permissive")


def partial_fit_parquet(estimator, source, *, target, classes=None, epochs=1, chunk_rows=500_000,
                        sample_rows=100_000, columns=None, random_state=None):
    """Train ``estimator`` on a Parquet dataset larger than memory, one chunk at a time.

    Unless ``estimator.field_transformer`` is set, the field encoding is first fitted on a
    random sample of ``sample_rows`` rows (with the estimator's field parameters) and set,
    frozen, as ``field_transformer``. Then every epoch reads the data chunk by chunk, in file
    order, and calls ``partial_fit`` once per chunk (each call shuffles its own rows). Put the
    rows in random order across files beforehand if their order carries a trend.

    Like ``partial_fit``, the call is all or nothing: when it fails (an error, a damaged
    file, ``KeyboardInterrupt``) at any chunk, the estimator is put back as it was before the
    call, its parameters included.

    Parameters
    ----------
    estimator : AutoIntClassifier or AutoIntRegressor
        The estimator to train (it continues from its current state if already trained).
    source : str, path or list of paths
        A Parquet file, a directory of Parquet files, or a list of files.
    target : str
        Column of the labels.
    classes : array-like, default=None
        Every class label of the data: required for a classifier, unused by a regressor.
    epochs : int, default=1
        Passes over the data.
    chunk_rows : int, default=500_000
        Largest number of rows in memory at once.
    sample_rows : int, default=100_000
        Rows to fit the field encoding on.
    columns : list of str, default=None
        Feature columns; all but ``target`` when None.
    random_state : int, RandomState instance or None, default=None
        Source of the encoding sample.

    Returns
    -------
    estimator : AutoIntClassifier or AutoIntRegressor
        The trained estimator.

    Examples
    --------
    >>> import tempfile
    >>> from skautoint import AutoIntClassifier
    >>> from skautoint.datasets import load_adult
    >>> from skautoint.out_of_core import partial_fit_parquet
    >>> frame = load_adult(as_frame=True).frame
    >>> folder = tempfile.mkdtemp()
    >>> frame.iloc[:2000].to_parquet(f"{folder}/part-0.parquet")
    >>> frame.iloc[2000:4000].to_parquet(f"{folder}/part-1.parquet")
    >>> clf = partial_fit_parquet(AutoIntClassifier(random_state=0), folder, target="income",
    ...                           classes=["<=50K", ">50K"], chunk_rows=1000)
    >>> clf.n_iter_  # one epoch per chunk
    4
    """
    epochs = _check_count(epochs, "epochs")
    chunk_rows = _check_count(chunk_rows, "chunk_rows")
    sample_rows = _check_count(sample_rows, "sample_rows")
    before = dict(estimator.__dict__)
    try:
        return _train_on_chunks(estimator, source, target, classes, epochs, chunk_rows,
                                sample_rows, columns, random_state)
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(before)
        raise


def _train_on_chunks(estimator, source, target, classes, epochs, chunk_rows, sample_rows,
                     columns, random_state):
    if estimator.target_statistics is not None and estimator.field_transformer is None:
        raise ValueError(
            "Out-of-core training cannot use target_statistics: its chunks are encoded with "
            "statistics fitted on a sample of the same rows, which would hold their own "
            "labels. Set target_statistics=None."
        )
    if estimator.field_transformer is None:
        X_sample, _ = sample_parquet(source, sample_rows, target=target, columns=columns,
                                     random_state=random_state)
        encoding = estimator._new_field_transformer().fit(X_sample)
        estimator.set_params(field_transformer=FrozenEstimator(encoding))
        del X_sample
    labels = {} if is_regressor(estimator) else {"classes": classes}
    for _ in range(epochs):
        n_chunks = 0
        for X, y in iter_parquet_chunks(source, target=target, chunk_rows=chunk_rows,
                                        columns=columns):
            estimator.partial_fit(X, y, **labels)
            n_chunks += 1
        if n_chunks == 0:
            raise ValueError(f"The Parquet data at {source} holds no rows.")
    return estimator
