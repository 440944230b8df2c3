"""Continuous fields: robust scaling for the embedded form, quantile buckets for the coded form,
knots for the piecewise-linear form."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._coded import _CodedFieldEncoder
from ._input import _as_float, _iter_columns, check_field_input
from ._multivalued import block_output, slot_names

#: Smallest scale a column may be divided by: below it (subnormal numbers) the quotient of
#: the column's larger values overflows.
_SMALLEST_SCALE = np.finfo(np.float64).tiny

#: What ``n_bins`` may be, for the bucketizer, the piecewise-linear encoder and the estimators.
N_BINS_CONSTRAINTS = [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})]


def _center_and_scale(z, bound, column):
    """Median and interquartile range of ``z``, snapped to (0, 1) when already standard.

    A column with a zero IQR (one value dominates, e.g. a count that is mostly 0) is scaled
    linearly onto ``[-bound, bound]`` instead: compressing its tail would not converge, since
    its spread shrinks with every round. A spread that is not a normal float64 (subnormal,
    or infinite because the values span more than the float64 range) is refused.
    """
    if z.size == 0:
        return 0.0, 1.0
    center = float(np.median(z))
    with np.errstate(over="ignore", invalid="ignore"):
        q25, q75 = np.quantile(z, [0.25, 0.75])
        scale = float(q75 - q25)
        if not scale >= _SMALLEST_SCALE:
            scale = float(np.max(np.abs(z - center))) / bound
    if scale == 0:
        scale = 1.0  # a constant column
    if not _SMALLEST_SCALE <= scale < np.inf:
        raise ValueError(
            f"Column {column!r} cannot be scaled for continuous='embed': its spread ({scale:g}) "
            "is not a normal float64 number (its values are subnormal, below 2.2e-308, or span "
            "more than the float64 range). Multiply the column by a constant that brings its "
            "values to a usual range, or bucketize it (continuous_overrides={"
            f"{column!r}: 'bucketize'}})."
        )
    # Snap values that are already standard, so that a second pass over scaled output is an
    # exact identity (the transformer is idempotent).
    if abs(scale - 1.0) <= 1e-4:
        scale = 1.0
    if abs(center) <= 1e-4 * scale:
        center = 0.0
    return center, scale


class FieldScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale continuous columns robustly for the embedded form ``e = value * v``.

    Each column is centred on its median and divided by its interquartile range. When the
    scaled values still reach beyond ``bound`` (heavy tails such as click counts), ``arcsinh``
    compresses them and the result is standardised again, until they fit. A column whose IQR
    is 0 (one value dominates, e.g. a mostly-zero count) is scaled linearly onto
    ``[-bound, bound]``; bucketize such a column when its tail matters. Values at transform
    time are clipped to the range seen in ``fit``. Missing values stay NaN: the network gives
    them a learned vector of their own. Refitting on the scaler's own output reproduces that
    output exactly.

    Parameters
    ----------
    bound : float, default=10.0
        Largest absolute scaled value accepted before the tails are compressed.

    Attributes
    ----------
    steps_ : list of list of tuple
        Per column, the ``(compress, center, scale)`` steps applied in order.
    output_range_ : ndarray of shape (n_features, 2)
        Smallest and largest scaled value seen in ``fit``, per column.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoint._fields import FieldScaler
    >>> X = np.array([[1.0], [2.0], [3.0], [np.nan]])
    >>> FieldScaler().fit_transform(X).ravel().tolist()
    [-1.0, 0.0, 1.0, nan]
    """

    _parameter_constraints: dict = {"bound": [Interval(Real, 1, None, closed="left")]}

    _max_rounds = 4

    def __init__(self, bound=10.0):
        self.bound = bound

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn each column's centre, scale and tail compression.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric columns; NaN marks missing values.
        y : None
            Ignored.

        Returns
        -------
        self : FieldScaler
            Fitted scaler.
        """
        X = check_field_input(self, X, reset=True)
        self.steps_, ranges = [], []
        for name, values in _iter_columns(X):
            x = _finite_values(_as_float(values, name), name)
            z, steps = x[~np.isnan(x)], []
            for round_ in range(self._max_rounds):
                compress = round_ > 0
                if compress:
                    z = np.arcsinh(z)
                center, scale = _center_and_scale(z, self.bound, name)
                z = (z - center) / scale
                steps.append((compress, center, scale))
                if z.size == 0 or np.max(np.abs(z)) <= self.bound:
                    break
            self.steps_.append(steps)
            z = z.astype(np.float32)
            ranges.append((z.min(), z.max()) if z.size else (0.0, 0.0))
        self.output_range_ = np.array(ranges, dtype=np.float32).reshape(-1, 2)
        return self

    def transform(self, X):
        """Scale each column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric columns, as in ``fit``.

        Returns
        -------
        X_scaled : ndarray of float32 of shape (n_samples, n_features)
            Scaled values, NaN where the input was missing.
        """
        check_is_fitted(self)
        X = check_field_input(self, X, reset=False)
        out = np.empty(X.shape, dtype=np.float32)
        for j, (name, values) in enumerate(_iter_columns(X)):
            z = _finite_values(_as_float(values, name), name)
            for compress, center, scale in self.steps_[j]:
                if compress:
                    z = np.arcsinh(z)
                z = (z - center) / scale
            low, high = self.output_range_[j]
            out[:, j] = np.clip(z.astype(np.float32), low, high)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def _finite_values(x, column):
    if np.isinf(x).any():
        raise ValueError(
            f"Column {column!r} contains infinity; skautoint accepts NaN as missing but not "
            "+/-inf. Replace it (e.g. with NaN or a large finite number)."
        )
    return x


class FieldBucketizer(_CodedFieldEncoder):
    """Cut continuous columns into quantile buckets, turning each into a coded field.

    Code 0 is *missing*; buckets get codes 1, 2, ... in increasing order of value. A column
    with at most ``n_bins`` distinct values gets one bucket per value. Otherwise a value that
    holds at least ``1/n_bins`` of the rows (the 0 of a mostly-zero count) gets a bucket of its
    own and the other values are cut at quantiles, so a column gets at most ``n_bins`` buckets
    (unless it has more than ``n_bins / 2`` such point masses).

    Parameters
    ----------
    n_bins : int or "auto", default="auto"
        Largest number of buckets per column. ``"auto"`` takes one bucket per 250 training
        rows, between 8 and 128 (:func:`auto_n_bins`): small tables get coarse buckets that
        each hold enough rows to learn from, large ones fine buckets.

    Attributes
    ----------
    bin_edges_ : list of ndarray
        Bucket edges of each column (observed values at the quantiles); a value ``x`` falls
        in bucket ``1 + searchsorted(edges, x, side="left")``, i.e. bucket ``b`` holds the
        values in ``(edges[b-2], edges[b-1]]``.
    n_codes_ : ndarray of int
        Number of codes of each column (the missing code included).
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoint._fields import FieldBucketizer
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan]])
    >>> FieldBucketizer(n_bins=2).fit_transform(X).ravel().tolist()
    [1, 1, 2, 2, 0]
    """

    _parameter_constraints: dict = {
        "n_bins": N_BINS_CONSTRAINTS,
    }

    def __init__(self, n_bins="auto"):
        self.n_bins = n_bins

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the quantile edges of each column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric columns; NaN marks missing values.
        y : None
            Ignored.

        Returns
        -------
        self : FieldBucketizer
            Fitted bucketizer.
        """
        n_bins, columns = _observed_values(self, X)
        self.bin_edges_ = [_bucket_edges(x, n_bins) for x in columns]
        self.n_codes_ = np.array([len(e) + 2 for e in self.bin_edges_], dtype=np.int64)
        return self

    def _encode_column(self, j, name, values):
        x = _finite_values(_as_float(values, name), name)
        codes = 1 + np.searchsorted(self.bin_edges_[j], x, side="left")
        codes[np.isnan(x)] = 0
        return codes


def _observed_values(encoder, X):
    """For ``encoder.fit``: check ``X`` (resetting the encoder's input checks) and return the
    resolved ``n_bins`` with every column's finite values (NaN dropped; infinity refused)."""
    X = check_field_input(encoder, X, reset=True)
    n_bins = auto_n_bins(X.shape[0]) if encoder.n_bins == "auto" else int(encoder.n_bins)
    columns = [_finite_values(_as_float(values, name), name)
               for name, values in _iter_columns(X)]
    return n_bins, [x[~np.isnan(x)] for x in columns]


def auto_n_bins(n_samples):
    """Buckets per continuous column for ``n_bins="auto"``: one per 250 rows, in [8, 128].

    Measured with ``benchmarks/bench_quality.py``: Adult (32k rows) gains 0.006 test ROC AUC
    from 32 to 128 buckets, while Titanic and German credit (about 1k rows) and Criteo (10k)
    do best with 8 to 16.

    >>> auto_n_bins(1_000), auto_n_bins(30_000), auto_n_bins(10_000_000)
    (8, 120, 128)
    """
    return int(min(128, max(8, n_samples // 250)))


def _bucket_edges(x, n_bins):
    """Bucket edges of the finite values ``x``: point masses alone, quantiles for the rest.

    A value holding at least ``1/n_bins`` of the rows (the 0 of a mostly-zero count) gets a
    bucket of its own, and the other values share the remaining buckets by quantiles. Plain
    quantiles would spend most buckets on the point mass and leave one or two for the values
    that carry the information (capital gains above 0, say).
    """
    if x.size == 0:
        return np.array([])
    values, counts = np.unique(x, return_counts=True)
    if len(values) <= n_bins:
        return values[:-1]  # one bucket per distinct value
    heavy = np.flatnonzero(counts * n_bins >= x.size)
    edges = [values[heavy], values[heavy[heavy > 0] - 1]]  # ``(previous value, value]``
    light = ~np.isin(np.arange(len(values)), heavy)
    n_light_buckets = max(1, n_bins - 2 * len(heavy))  # a point mass may cost two edges
    if light.any() and n_light_buckets > 1:
        probabilities = np.linspace(0, 1, n_light_buckets + 1)[1:-1]
        edges.append(np.quantile(np.repeat(values[light], counts[light]), probabilities,
                                 method="inverted_cdf"))
    return np.unique(np.concatenate(edges))


class PiecewiseLinearEncoder(TransformerMixin, BaseEstimator):
    """Encode continuous columns as a piecewise-linear blend of learned knot vectors.

    Each column gets knots at its quantiles (the edges :class:`FieldBucketizer` would cut at,
    plus the smallest and largest value of fit). A value between two neighbouring knots is
    the blend ``(1 - f) * knot_t + f * knot_{t+1}`` of their vectors, ``f`` its relative
    position between them; values beyond the outer knots take the outer knot. So the field
    vector is a continuous, piecewise-linear function of the number, and neighbouring values
    share their knots: an effect that is smooth or monotone in the number is learned from
    the rows on both sides of a knot, not bucket by bucket. (This spans the same functions as
    the piecewise-linear encoding of Gorishniy et al., 2022, whose bucket vectors are the
    differences of neighbouring knots here.)

    The output is a block of two slots per column in the form of a multi-valued field:
    codes ``col[0]``, ``col[1]`` (0 missing, then the knots 1, 2, ... in increasing order)
    and weights ``col:weight[0]``, ``col:weight[1]``. A missing value takes the missing
    code with weight 1, so it keeps a vector of its own.

    Parameters
    ----------
    n_bins : int or "auto", default="auto"
        Largest number of intervals between knots per column (knots: at most one more);
        ``"auto"`` as in :class:`FieldBucketizer`.

    Attributes
    ----------
    knots_ : list of ndarray
        Knot positions of each column, increasing.
    n_codes_ : ndarray of int
        Number of codes of each column (the missing code included).
    output_sources_ : ndarray of int
        The input column of each output column.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoint._fields import PiecewiseLinearEncoder
    >>> X = np.array([[0.0], [1.0], [2.0], [4.0], [np.nan]])
    >>> encoder = PiecewiseLinearEncoder(n_bins=2).fit(X)
    >>> encoder.knots_[0].tolist()
    [0.0, 1.0, 4.0]
    >>> encoder.transform(np.array([[2.5]])).tolist()  # codes 2, 3 (knots 1.0, 4.0), weights
    [[2.0, 3.0, 0.5, 0.5]]
    """

    _parameter_constraints: dict = {
        "n_bins": N_BINS_CONSTRAINTS,
    }

    #: Slots of every column's block.
    n_slots = 2

    def __init__(self, n_bins="auto"):
        self.n_bins = n_bins

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Place the knots of each column at its quantiles.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric columns; NaN marks missing values.
        y : None
            Ignored.

        Returns
        -------
        self : PiecewiseLinearEncoder
            Fitted encoder.
        """
        n_bins, columns = _observed_values(self, X)
        self.knots_ = [np.unique(np.concatenate([[x.min(), x.max()], _bucket_edges(x, n_bins)]))
                       if x.size else np.zeros(1)  # a column of no value: one knot all the same
                       for x in columns]
        self.n_codes_ = np.array([len(k) + 1 for k in self.knots_], dtype=np.int64)
        self.output_sources_ = np.repeat(np.arange(len(self.knots_)), 2 * self.n_slots)
        return self

    def transform(self, X):
        """Encode each column as its two knot codes and their blend weights.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Numeric columns, as in ``fit``.

        Returns
        -------
        blocks : ndarray of float64 or DataFrame
            Per column, 2 codes then 2 weights; with pandas output, code columns of category
            dtype (categories ``0..n_codes-1``) and float32 weight columns.
        """
        check_is_fitted(self)
        X = check_field_input(self, X, reset=False)
        return block_output(self, [self._encode_column(j, name, values)
                                   for j, (name, values) in enumerate(_iter_columns(X))], X)

    def _encode_column(self, j, name, values):
        """``(codes, weights)`` of shape (n_rows, 2) for one column."""
        x = _finite_values(_as_float(values, name), name)
        knots = self.knots_[j]
        missing = np.isnan(x)
        clipped = np.clip(np.where(missing, knots[0], x), knots[0], knots[-1])
        left = np.clip(np.searchsorted(knots, clipped, side="right") - 1, 0, len(knots) - 1)
        right = np.minimum(left + 1, len(knots) - 1)
        span = knots[right] - knots[left]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(span > 0, (clipped - knots[left]) / span, 0.0)
        codes = np.column_stack([1 + left, 1 + right]).astype(np.int64)
        weights = np.column_stack([1.0 - share, share]).astype(np.float32)
        codes[missing] = [0, 0]
        weights[missing] = [1.0, 0.0]
        return codes, weights

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``col[0]``, ``col[1]``, ``col:weight[0]``,
        ``col:weight[1]`` per column.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input column names; by default those seen in ``fit``.

        Returns
        -------
        names : ndarray of str
            4 names per column.
        """
        check_is_fitted(self)
        columns = _check_feature_names_in(self, input_features)
        return np.asarray([name for column in columns
                           for name in slot_names(column, self.n_slots)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags


def continuous_encoder(strategy, n_bins="auto"):
    """A new, unfitted encoder of numbers for a ``continuous`` strategy: ``"embed"``
    (:class:`FieldScaler`), ``"bucketize"`` (:class:`FieldBucketizer`) or
    ``"piecewise_linear"`` (:class:`PiecewiseLinearEncoder`)."""
    if strategy == "embed":
        return FieldScaler()
    return {"bucketize": FieldBucketizer,
            "piecewise_linear": PiecewiseLinearEncoder}[strategy](n_bins=n_bins)
