"""Saved by skautoint 0.1.0 at commit 9bc8d7e (state format 1), before the estimator-family
refactor. Run from the repository root with that commit checked out."""

import zipfile

import joblib
import numpy as np
import skops.io

from skautoint import AutoIntClassifier, persistence
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
Xt, yt = load_adult(subset="test", return_X_y=True)
Xt = Xt.iloc[:200]
binary = AutoIntClassifier(max_epochs=2, random_state=0).fit(X[:2000], y[:2000])
joblib.dump(binary, "tests/data/adult_binary_format1.joblib")
skops.io.dump(binary, "tests/data/adult_binary_format1.skops",
              compression=zipfile.ZIP_DEFLATED, compresslevel=9)
persistence.save(binary, "tests/data/adult_binary_format1.skautoint")
Xm, ym = X.drop(columns="race")[:2000], X["race"][:2000]
multi = AutoIntClassifier(max_epochs=2, random_state=0, continuous="embed", layer_norm=True,
                          residual=False, linear_term=True, mlp_hidden_units=(8,), n_layers=2,
                          attention_scaling=True).fit(Xm, ym)
joblib.dump(multi, "tests/data/adult_race_multiclass_format1.joblib")
np.savez("tests/data/format1_expected.npz", binary_proba=binary.predict_proba(Xt),
         multi_proba=multi.predict_proba(Xt.drop(columns="race")))
