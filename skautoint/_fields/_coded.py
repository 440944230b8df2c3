"""The shared transform of the encoders that emit integer codes, and its output container."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ._input import _is_frame, _iter_columns, check_field_input


def _refuse_polars(estimator):
    """``estimator``'s output container; polars is refused for fields of codes."""
    container = _get_output_config("transform", estimator)["dense"]
    if container == "polars":
        raise ValueError(
            "Coded fields cannot be output as a polars DataFrame: polars has no categorical "
            "type over integer codes, and integer columns would be read downstream as "
            "numbers. Use set_output(transform='pandas'), what the AutoInt estimators read "
            "their field sizes from. Polars input is fine."
        )
    return container


def _coded_output(estimator, codes, n_codes, X):
    """Return integer codes as an int64 array, or as category columns for pandas output.

    The pandas form carries each field's code range in its dtype (categories ``0..n-1``),
    which is how a downstream estimator learns the field sizes without refitting anything.
    Polars output is refused: polars has no categorical type over integers, and plain
    integer columns would be read downstream as numbers (bucketized), not as codes.
    """
    container = _refuse_polars(estimator)
    if container != "pandas":
        return codes
    columns = {
        name: pd.Categorical.from_codes(codes[:, j], categories=pd.RangeIndex(n))
        for j, (name, n) in enumerate(zip(estimator.get_feature_names_out(), n_codes, strict=True))
    }
    return pd.DataFrame(columns, index=X.index if _is_frame(X) else None, copy=False)


class _CodedFieldEncoder(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared transform of the encoders that turn each column into integer codes."""

    def _encode_column(self, j, name, values):
        raise NotImplementedError

    def transform(self, X):
        """Encode each column to its integer codes.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Columns, as in ``fit``.

        Returns
        -------
        codes : ndarray of int64 or DataFrame of category columns
            One code per row and column; with pandas output, category columns whose
            categories are ``0..n_codes-1``.
        """
        check_is_fitted(self)
        X = check_field_input(self, X, reset=False)
        codes = np.empty(X.shape, dtype=np.int64)
        for j, (name, values) in enumerate(_iter_columns(X)):
            codes[:, j] = self._encode_column(j, name, values)
        return _coded_output(self, codes, self.n_codes_, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags
