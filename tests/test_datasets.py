"""The shipped Adult data: shapes, split, missing values, and byte-identity with UCI's files."""

import gzip
import hashlib
from importlib import resources

import numpy as np
import pytest

from skautoint.datasets import load_adult

UCI_MD5 = {"adult.data.gz": "5d7c39d7b8804f071cdd1f2a7c460872",
           "adult.test.gz": "35238206dfdf7f1fe215bbb874adecdc"}


@pytest.mark.parametrize("name", sorted(UCI_MD5))
def test_shipped_files_unpack_to_the_uci_originals(name):
    with resources.files("skautoint.datasets").joinpath("data", name).open("rb") as handle:
        assert hashlib.md5(gzip.decompress(handle.read())).hexdigest() == UCI_MD5[name]


def test_official_split_shapes_and_targets():
    bunch = load_adult()
    assert bunch.data.shape == (32561, 14) and bunch.frame.shape == (32561, 15)
    assert bunch.target.eq(">50K").mean() == pytest.approx(0.2408, abs=1e-4)
    X_test, y_test = load_adult(subset="test", return_X_y=True)
    assert X_test.shape == (16281, 14)
    assert set(y_test) == {"<=50K", ">50K"}  # the test file's trailing dots are gone
    assert y_test.eq(">50K").mean() == pytest.approx(0.2362, abs=1e-4)
    assert load_adult(subset="all", return_X_y=True)[0].shape == (48842, 14)


def test_missing_values_and_array_form():
    X, _ = load_adult(return_X_y=True)
    assert X[["workclass", "occupation", "native_country"]].isna().sum().tolist() == [
        1836, 1843, 583]
    X_array, y_array = load_adult(return_X_y=True, as_frame=False)
    assert X_array.dtype == object and X_array.shape == (32561, 14)
    assert isinstance(y_array, np.ndarray)
    with pytest.raises(ValueError, match="subset"):
        load_adult(subset="validation")
