"""Target statistics: the out-of-fold target mean of a categorical column's level, as a
continuous field beside the column's own."""

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import TargetEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ..exceptions import HighCardinalityWarning
from ._categorical import CategoricalFieldEncoder
from ._input import _column_names, check_field_input
from ._kinds import CONTINUOUS_STRATEGIES
from ._numeric import N_BINS_CONSTRAINTS, continuous_encoder

#: ``target_statistics="auto"`` takes a categorical column when it has at least this many
#: levels in fit ...
AUTO_MIN_LEVELS = 100
#: ... and its levels average fewer rows than this: too few to train a level's vector.
AUTO_MAX_ROWS_PER_LEVEL = 20

#: Folds of the cross-fitting: each row's statistic comes from the other folds' rows.
N_FOLDS = 5

def statistic_names(column, n_outputs):
    """Names of a column's statistics: ``col:target`` (a binary or continuous target), or
    ``col:target=k`` for the share of each class ``k`` of a multiclass target."""
    if n_outputs == 1:
        return [f"{column}:target"]
    return [f"{column}:target={k}" for k in range(n_outputs)]


class TargetStatisticEncoder(TransformerMixin, BaseEstimator):
    """Out-of-fold target statistics of categorical columns, encoded as continuous fields.

    A level seen in a few rows cannot train a vector of its own, but its rows' mean target
    is exactly what gradient boosting on target-encoded columns exploits. For each chosen
    column this encoder computes that mean per level with scikit-learn's
    :class:`~sklearn.preprocessing.TargetEncoder` (shrunk towards the global mean by the
    level's count, ``smooth="auto"``), and emits it as one more continuous field, encoded
    like the other numbers (``continuous``). ``fit_transform`` cross-fits on 5 folds
    (stratified for class targets, shuffled with a fixed seed), so no training row sees its
    own target; ``transform`` uses the statistics of all of ``fit``'s rows. Missing values
    are a level of their own (with their rows' mean); levels unseen in ``fit`` get the
    global mean. A multiclass target gives one field
    per class (its share among the level's rows); a float target is continuous.

    Parameters
    ----------
    columns : "auto", None or list of str, default="auto"
        Which of the (categorical) input columns get a statistic. ``"auto"`` takes those with
        at least 100 levels in fit whose levels average fewer than 20 rows (identifiers with
        a long tail); a list names them; None takes none. Without a target (``y=None``)
        ``"auto"`` takes none, and a list is refused.
    continuous : {"embed", "bucketize", "piecewise_linear"}, default="bucketize"
        How a statistic becomes a field, as for numeric columns.
    n_bins : int or "auto", default="auto"
        Buckets (or knot intervals) of a bucketized (or piecewise-linear) statistic.
    input_names : list of str, default=None
        Names of the input columns, by which ``columns`` names them and the statistics are
        named; by default their own (``x0, x1, ...`` for an array). The field transformer
        passes the table's names of the categorical columns it hands over.

    Attributes
    ----------
    columns_ : ndarray of int
        Positions of the input columns that got a statistic.
    level_encoder_ : CategoricalFieldEncoder or None
        Codes of the chosen columns' levels (every level seen in fit its own code).
    target_encoder_ : TargetEncoder or None
        The fitted target statistics of those codes.
    numeric_encoder_ : FieldScaler, FieldBucketizer, PiecewiseLinearEncoder or None
        The encoding of the statistics as fields.
    output_sources_ : ndarray of int
        The input column of each output column.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skautoint._fields import TargetStatisticEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"shop": rng.choice([f"s{i}" for i in range(200)], 2000)})
    >>> y = (X["shop"].str[1:].astype(int) % 2).to_numpy()
    >>> encoder = TargetStatisticEncoder(continuous="embed").set_output(transform="pandas")
    >>> encoder.fit_transform(X, y).columns.tolist()
    ['shop:target']
    """

    _parameter_constraints: dict = {
        "columns": [list, tuple, np.ndarray, StrOptions({"auto"}), None],
        "continuous": [StrOptions(set(CONTINUOUS_STRATEGIES))],
        "n_bins": N_BINS_CONSTRAINTS,
        "input_names": [list, None],
    }

    def __init__(self, columns="auto", *, continuous="bucketize", n_bins="auto",
                 input_names=None):
        self.columns = columns
        self.continuous = continuous
        self.n_bins = n_bins
        self.input_names = input_names

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the statistics of the chosen columns.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Categorical columns.
        y : array-like of shape (n_samples,), default=None
            The target: class labels (of any dtype but float) or numbers (floats).

        Returns
        -------
        self : TargetStatisticEncoder
            Fitted encoder.
        """
        self._fit_transform(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit the statistics and return them cross-fitted: each row's statistic comes from
        the rows of the other folds.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Categorical columns.
        y : array-like of shape (n_samples,), default=None
            The target: class labels (of any dtype but float) or numbers (floats).

        Returns
        -------
        fields : ndarray or DataFrame
            The encoded statistics, in the output container set by ``set_output``.
        """
        return self._fit_transform(X, y)

    def _fit_transform(self, X, y):
        X = check_field_input(self, X, reset=True)
        names = self._names(X)
        chosen = self._chosen_columns(X, names, y)
        self.columns_ = np.asarray(chosen, dtype=np.int64)
        self.level_encoder_ = self.target_encoder_ = self.numeric_encoder_ = None
        self.output_sources_ = np.zeros(0, dtype=np.int64)
        if not chosen:
            return self._output(X, np.zeros((len(X), 0)))
        codes = self._fit_levels(X, chosen)
        y = np.asarray(y)
        continuous = y.dtype.kind == "f"
        folds = (KFold if continuous else StratifiedKFold)(N_FOLDS, shuffle=True,
                                                           random_state=0)
        if not continuous and np.unique(y, return_counts=True)[1].min() < N_FOLDS:
            folds = KFold(N_FOLDS, shuffle=True, random_state=0)  # a class too rare to stratify
        self.target_encoder_ = TargetEncoder(target_type="continuous" if continuous else "auto",
                                             cv=folds)
        statistics = self.target_encoder_.fit_transform(codes, y)
        n_per_column = statistics.shape[1] // len(chosen)
        frame = self._statistics_frame(X, statistics, n_per_column)
        self.numeric_encoder_ = continuous_encoder(self.continuous, self.n_bins)
        self.numeric_encoder_.set_output(transform=self._container())
        fields = self.numeric_encoder_.fit_transform(frame)
        sources = getattr(self.numeric_encoder_, "output_sources_",
                          np.arange(frame.shape[1]))
        self.output_sources_ = self.columns_[np.asarray(sources) // n_per_column]
        return fields

    def _names(self, X):
        names = _column_names(X) if self.input_names is None else list(self.input_names)
        if len(names) != X.shape[1]:
            raise ValueError(f"input_names has {len(names)} names for {X.shape[1]} columns.")
        return names

    def _chosen_columns(self, X, names, y):
        if self.columns is None or (not isinstance(self.columns, str) and not len(self.columns)):
            return []
        if isinstance(self.columns, str):  # "auto"
            if y is None:
                return []
            return [j for j in range(X.shape[1]) if _is_identifier_like(X, j)]
        if y is None:
            raise ValueError(
                f"target_statistics={list(self.columns)!r} needs the target: fit the field "
                "transformer with y (an AutoInt estimator passes it)."
            )
        chosen = []
        for column in self.columns:
            if not isinstance(column, str) or column not in names:
                raise ValueError(
                    f"target_statistics names {column!r}, which is not a categorical column "
                    f"of X (those are {names}); name categorical columns by their names."
                )
            chosen.append(names.index(column))
        return sorted(set(chosen))

    def _fit_levels(self, X, chosen):
        """Codes of the chosen columns' levels, every level seen in fit its own code."""
        self.level_encoder_ = CategoricalFieldEncoder(min_frequency=1)
        with warnings.catch_warnings():
            # the column's own field warns about identifiers already
            warnings.simplefilter("ignore", HighCardinalityWarning)
            return self.level_encoder_.fit_transform(_take_columns(X, chosen))

    def _statistics_frame(self, X, statistics, n_per_column):
        """The statistics as a frame named by :func:`statistic_names`, with ``X``'s index
        (the column transformer joins its steps' frames on it)."""
        names = self._names(X)
        labels = [label for j in self.columns_
                  for label in statistic_names(names[j], n_per_column)]
        return pd.DataFrame(statistics, columns=labels, index=_index_of(X))

    def transform(self, X):
        """The statistics of ``X``'s levels, as learned from all of ``fit``'s rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Categorical columns, as in ``fit``.

        Returns
        -------
        fields : ndarray or DataFrame
            The encoded statistics, in the output container set by ``set_output``.
        """
        check_is_fitted(self)
        X = check_field_input(self, X, reset=False)
        if self.target_encoder_ is None:
            return self._output(X, np.zeros((len(X), 0)))
        codes = self.level_encoder_.transform(_take_columns(X, self.columns_))
        statistics = self.target_encoder_.transform(codes)
        frame = self._statistics_frame(X, statistics, statistics.shape[1] // len(self.columns_))
        return self.numeric_encoder_.transform(frame)

    def _container(self):
        return _get_output_config("transform", self)["dense"]

    def _output(self, X, values):
        """``values`` (no statistic: no column) in the output container."""
        if self._container() == "pandas":
            return pd.DataFrame(values, index=_index_of(X))
        return values

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: those of the encoded statistics
        (``col:target``, or ``col:target=k`` per class, as the numeric encoding names them).

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input column names; by default those seen in ``fit``.

        Returns
        -------
        names : ndarray of str
            The output names.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        if self.numeric_encoder_ is None:
            return np.asarray([], dtype=object)
        return self.numeric_encoder_.get_feature_names_out()

    def set_output(self, *, transform=None):
        """Set the output container, of this encoder and of its numeric encoding.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            The container; None leaves it as it is.

        Returns
        -------
        self : TargetStatisticEncoder
            This encoder.
        """
        super().set_output(transform=transform)
        if getattr(self, "numeric_encoder_", None) is not None:
            self.numeric_encoder_.set_output(transform=self._container())
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags


def _index_of(X):
    return X.index if hasattr(X, "index") else None


def _take_columns(X, positions):
    positions = list(positions)
    return X.iloc[:, positions] if hasattr(X, "iloc") else np.asarray(X)[:, positions]


def _is_identifier_like(X, j):
    """The ``"auto"`` rule: at least ``AUTO_MIN_LEVELS`` levels, averaging fewer than
    ``AUTO_MAX_ROWS_PER_LEVEL`` rows each (missing values not counted)."""
    column = X.iloc[:, j] if hasattr(X, "iloc") else pd.Series(np.asarray(X)[:, j])
    present = column.dropna()
    n_levels = present.nunique()
    return (n_levels >= AUTO_MIN_LEVELS
            and len(present) < AUTO_MAX_ROWS_PER_LEVEL * n_levels)


