"""Quality benchmark: skautoint against logistic regression, gradient boosting and DeepCTR-Torch.

For every data set in ``benchmarks/bench_datasets.py`` (fixed splits) and every seed, each model is
fitted on the training split and scored on the test split: ROC AUC, log-loss, accuracy,
expected calibration error (ECE, 15 equal-width bins) and fit seconds, printed as mean ± std
over the seeds. The multiclass case reports log-loss and accuracy.

Run (about 30 minutes on 2 cores for everything)::

    .venv/bin/pip install -c constraints.txt -e ".[bench]"
    .venv/bin/python benchmarks/bench_quality.py                       # all, 5 seeds
    .venv/bin/python benchmarks/bench_quality.py --datasets criteo --seeds 1 \\
        --models skautoint,HistGradientBoosting
    .venv/bin/python benchmarks/bench_quality.py --variants --seeds 3   # network variants
"""

import argparse
import contextlib
import functools
import io
import time
import warnings

import bench_datasets as datasets
import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
)

from skautoint import AutoIntClassifier


def _columns(X):
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    return categorical, [c for c in X.columns if c not in categorical]


def _as_objects(X):
    """pandas ``string`` columns as object columns with NaN: what scikit-learn's encoders take."""
    categorical, _ = _columns(X)
    return X.astype({c: object for c in categorical}).where(X.notna(), np.nan)


# ------------------------------------------------------------------------------------- models
def skautoint(seed, **params):
    return AutoIntClassifier(random_state=seed, **params)


def skautoint_plus(seed):
    return AutoIntClassifier(random_state=seed, mlp_hidden_units=(256, 128))


def logistic_regression(seed, X):
    """One-hot categories; numbers imputed (with a missing flag) and cut into 10 quantile bins."""
    categorical, numeric = _columns(X)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=2), categorical),
        (make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                       KBinsDiscretizer(n_bins=10, encode="onehot", strategy="quantile",
                                        quantile_method="averaged_inverted_cdf")), numeric),
    )
    return make_pipeline(FunctionTransformer(_as_objects), encode,
                         LogisticRegression(max_iter=5000, random_state=seed))


def hist_gradient_boosting(seed, X):
    """Native categorical support; levels beyond 250 per column grouped (HGB's 255-bin limit)."""
    categorical, numeric = _columns(X)
    encode = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                        encoded_missing_value=np.nan, max_categories=250), categorical),
        ("passthrough", numeric),
    )
    mask = [True] * len(categorical) + [False] * len(numeric)
    return make_pipeline(FunctionTransformer(_as_objects), encode,
                         HistGradientBoostingClassifier(categorical_features=mask,
                                                        random_state=seed))


class LightGBM:
    """LGBMClassifier on pandas ``category`` columns (test levels mapped onto train's)."""

    def __init__(self, seed):
        from lightgbm import LGBMClassifier

        self.model = LGBMClassifier(random_state=seed, verbose=-1)

    def _frame(self, X):
        return X.assign(**{c: pd.Categorical(X[c].where(X[c].isin(levels)), categories=levels)
                           for c, levels in self.levels.items()})

    def fit(self, X, y):
        categorical, _ = _columns(X)
        self.levels = {c: X[c].dropna().unique() for c in categorical}
        self.model.fit(self._frame(X), y)
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(self._frame(X))


class DeepCTRAutoInt:
    """DeepCTR-Torch's AutoInt with its defaults, prepared as in its Criteo example.

    Categories: ids 1..k from the training split (0: missing or unseen, which the library
    cannot take otherwise), embedding size 4; numbers: missing as 0 and min-max scaled, fed as
    dense features (to the linear and DNN parts, not the attention, as the library does).
    Training: Adam, batch 256, 10 epochs (the example's), no early stopping.
    """

    epochs = 10

    def __init__(self, seed, n_classes=2):
        self.seed = seed

    def _inputs(self, X):
        inputs = {}
        for column, levels in self.levels.items():
            codes = pd.Index(levels).get_indexer(X[column].astype(object))
            inputs[column] = (codes + 1).astype(np.int64)  # -1 (unseen/missing) -> 0
        for column, (low, high) in self.ranges.items():
            x = X[column].to_numpy(dtype=float, na_value=np.nan)
            inputs[column] = np.nan_to_num((x - low) / (high - low if high > low else 1.0))
        return inputs

    def fit(self, X, y):
        from deepctr_torch.inputs import DenseFeat, SparseFeat
        from deepctr_torch.models import AutoInt

        categorical, numeric = _columns(X)
        self.levels = {c: X[c].dropna().unique() for c in categorical}
        self.ranges = {c: (np.nanmin(X[c].to_numpy(dtype=float, na_value=np.nan)),
                           np.nanmax(X[c].to_numpy(dtype=float, na_value=np.nan)))
                       for c in numeric}
        features = ([SparseFeat(c, vocabulary_size=len(self.levels[c]) + 1)
                     for c in categorical] + [DenseFeat(c, 1) for c in numeric])
        with contextlib.redirect_stdout(io.StringIO()):
            self.model = AutoInt(features, features, task="binary", device="cpu",
                                 seed=self.seed)
        self.model.compile("adam", "binary_crossentropy")
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the device and a summary
            self.model.fit(self._inputs(X), np.asarray(y, dtype=np.float32), batch_size=256,
                           epochs=self.epochs, verbose=0)
        return self

    def predict_proba(self, X):
        positive = self.model.predict(self._inputs(X), batch_size=4096)[:, 0]
        return np.column_stack([1 - positive, positive])


BINARY_MODELS = {
    "skautoint": lambda seed, X: skautoint(seed),
    "skautoint AutoInt+": lambda seed, X: skautoint_plus(seed),
    "LogisticRegression": logistic_regression,
    "HistGradientBoosting": hist_gradient_boosting,
    "LightGBM": lambda seed, X: LightGBM(seed),
    "DeepCTR-Torch AutoInt": lambda seed, X: DeepCTRAutoInt(seed),
}
VARIANTS = {  # the network variants of DESIGN.md, each on top of the defaults
    "default (paper form, bucketized numbers)": {},
    "numbers embedded (paper's x*v)": {"continuous": "embed"},
    "scaled attention + LayerNorm": {"attention_scaling": True,
                                     "layer_norm": "after_activation"},
    "with linear term": {"linear_term": True},
    "AutoInt+ (MLP 256-128)": {"mlp_hidden_units": (256, 128)},
}
VARIANT_MODELS = {name: functools.partial(lambda seed, X, params: skautoint(seed, **params),
                                            params=params)
                  for name, params in VARIANTS.items()}
MULTICLASS_MODELS = {name: BINARY_MODELS[name] for name in
                     ["skautoint", "skautoint AutoInt+", "LogisticRegression",
                      "HistGradientBoosting", "LightGBM"]}


# ------------------------------------------------------------------------------------- metrics
def expected_calibration_error(y, positive, n_bins=15):
    """Weighted mean |observed rate - mean predicted probability| over equal-width bins."""
    bins = np.minimum((positive * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.mean() * abs(y[members].mean() - positive[members].mean())
    return error


def score(y, proba):
    scores = {"log-loss": log_loss(y, proba, labels=np.arange(proba.shape[1])),
              "accuracy": accuracy_score(y, proba.argmax(axis=1))}
    if proba.shape[1] == 2:
        scores["ROC AUC"] = roc_auc_score(y, proba[:, 1])
        scores["ECE"] = expected_calibration_error(y, proba[:, 1])
    return scores


def run(loader, models, seeds):
    X_train, y_train, X_test, y_test = loader()
    rows = []
    for name, build in models.items():
        for seed in range(seeds):
            model = build(seed, X_train)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            proba = model.predict_proba(X_test)
            rows.append({"model": name, "seed": seed, **score(y_test, proba),
                         "fit s": seconds})
            if name.startswith("LogisticRegression"):
                break  # deterministic: one seed is all seeds
    return pd.DataFrame(rows)


def summary(results):
    metrics = [c for c in ["ROC AUC", "log-loss", "accuracy", "ECE", "fit s"]
               if c in results.columns]
    grouped = results.groupby("model", sort=False)[metrics]
    mean, std = grouped.mean(), grouped.std(ddof=0).fillna(0.0)
    table = pd.DataFrame(index=mean.index)
    for metric in metrics:
        digits = 1 if metric == "fit s" else 4
        table[metric] = [f"{m:.{digits}f} ± {s:.{digits}f}"
                         for m, s in zip(mean[metric], std[metric], strict=True)]
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join([*datasets.BINARY, *datasets.MULTICLASS]))
    parser.add_argument("--models", default=None,
                        help="comma-separated model names (default: all)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--variants", action="store_true",
                        help="compare skautoint's network variants instead of the peers")
    args = parser.parse_args()
    chosen = None if args.models is None else args.models.split(",")
    for name in args.datasets.split(","):
        binary = name in datasets.BINARY
        loader = datasets.BINARY[name] if binary else datasets.MULTICLASS[name]
        models = BINARY_MODELS if binary else MULTICLASS_MODELS
        if args.variants:
            models = VARIANT_MODELS
        if chosen is not None:
            models = {k: v for k, v in models.items() if k in chosen}
        table = summary(run(loader, models, args.seeds))
        print(f"\n### {name} ({args.seeds} seeds, mean ± std)\n")
        print(table.to_markdown() if _has_tabulate() else table.to_string(), flush=True)


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
