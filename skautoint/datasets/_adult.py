"""UCI Adult (census income), shipped compressed with its official train/test split."""

from importlib import resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week",
    "native_country", "income",
]
_FILES = {"train": ("adult.data.gz", 0), "test": ("adult.test.gz", 1)}

DESCR = """UCI Adult (census income) data set.

Predict whether yearly income exceeds $50K from 14 census attributes: 8 categorical
(workclass, education, marital_status, occupation, relationship, race, sex, native_country)
and 6 numeric (age, fnlwgt, education_num, capital_gain, capital_loss, hours_per_week).
Missing values (written '?' in the files) are NaN.

- train: 32,561 rows (adult.data), 24.08 % positive
- test: 16,281 rows (adult.test, the official test split), 23.62 % positive

Source: UCI Machine Learning Repository, https://doi.org/10.24432/C5XW20, by Barry Becker and
Ronny Kohavi (1996). Licence: CC BY 4.0. Cite: R. Kohavi, "Scaling Up the Accuracy of
Naive-Bayes Classifiers: a Decision-Tree Hybrid", KDD 1996.
"""


def _read(subset):
    name, skiprows = _FILES[subset]
    with resources.files(__package__).joinpath("data", name).open("rb") as handle:
        frame = pd.read_csv(
            handle, compression="gzip", names=ADULT_COLUMNS, skipinitialspace=True,
            na_values="?", skiprows=skiprows,
        )
    # The test file writes labels with a trailing dot (">50K.").
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def load_adult(*, subset="train", return_X_y=False, as_frame=True):
    """Load the UCI Adult data set (census income, binary target ``income``).

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The official training split (32,561 rows), the official test split (16,281 rows),
        or both, training rows first.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=True
        Return ``X`` as a DataFrame (categorical columns as strings, missing values NaN) and
        ``y`` as a Series. With ``False``, ``X`` is an object ndarray and ``y`` an ndarray.

    Returns
    -------
    data : Bunch
        With ``data``, ``target``, ``frame`` (None unless ``as_frame``), ``feature_names``,
        ``target_names`` and ``DESCR``.
    (X, y) : tuple
        When ``return_X_y`` is true. Labels are the strings ``"<=50K"`` and ``">50K"``.

    Examples
    --------
    >>> from skautoint.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> X.shape, y.value_counts().to_dict()
    ((32561, 14), {'<=50K': 24720, '>50K': 7841})
    >>> load_adult(subset="test", return_X_y=True)[0].shape
    (16281, 14)
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"`subset` must be 'train', 'test' or 'all', got {subset!r}.")
    subsets = ["train", "test"] if subset == "all" else [subset]
    frame = pd.concat([_read(s) for s in subsets], ignore_index=True)
    X, y = frame.drop(columns="income"), frame["income"]
    if not as_frame:
        X, y, frame = X.to_numpy(dtype=object), y.to_numpy(dtype=object), None
    if return_X_y:
        return X, y
    return Bunch(
        data=X, target=y, frame=frame, feature_names=ADULT_COLUMNS[:-1],
        target_names=np.array(["<=50K", ">50K"]), DESCR=DESCR,
    )
