"""Quality benchmark: skautoint against linear models, gradient boosting and DeepCTR-Torch.

For every data set in ``benchmarks/bench_datasets.py`` (fixed splits) and every seed, each model is
fitted on the training split and scored on the test split: ROC AUC, log-loss, accuracy,
expected calibration error (ECE, 15 equal-width bins) and fit seconds, printed as mean ± std
over the seeds. The multiclass case reports log-loss and accuracy. ``--task regression`` runs
``AutoIntRegressor`` against Ridge and gradient boosting on the regression sets: RMSE, MAE, R²
(and the mean Poisson deviance on the count target), with the RMSE ratios to the peers.

The peers: logistic regression (Ridge for regression) on one-hot categories with numbers in 10
quantile bins, standardised, or as splines; HistGradientBoosting with native categories and
with scikit-learn's ``TargetEncoder``; LightGBM; DeepCTR-Torch's AutoInt; and
"skautoint (0.2 defaults)", the defaults before the quality issue written out, so a change of
defaults is compared with them in the same run. The last table checks the quality targets:
ROC AUC at least the scaled-number logistic regression's on every binary set, and its mean at
least the best boosting model's.

Run (about 30 minutes on 2 cores for everything)::

    .venv/bin/pip install -c constraints.txt -e ".[bench]"
    .venv/bin/python benchmarks/bench_quality.py                       # all, 5 seeds
    .venv/bin/python benchmarks/bench_quality.py --datasets criteo --seeds 1 \\
        --models skautoint,HistGradientBoosting
    .venv/bin/python benchmarks/bench_quality.py --variants --seeds 3   # network variants
    .venv/bin/python benchmarks/bench_quality.py --task regression      # regression sets
    .venv/bin/python benchmarks/bench_quality.py --lists                # list columns

``--lists`` compares, on MovieLens, the genres as one multi-valued field against 19 binary
columns, one joined level and no genres; and on ``movielens_history`` (the film's genres and
the user's last liked and disliked films, as lists; also without ``user_id``, and with 20% of
the users held out as new users) skautoint with and without its list columns against
HistGradientBoosting on a multi-hot of each list column's 50 most frequent levels.
``--datasets`` picks among ``movielens_genres``, ``movielens_history``,
``movielens_history_no_id`` and ``movielens_history_new_users``.
"""

import argparse
import contextlib
import functools
import io
import math
import sys
import time
import warnings

import bench_datasets as datasets
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, is_regressor
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    mean_poisson_deviance,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    SplineTransformer,
    StandardScaler,
    TargetEncoder,
)

from skautoint import AutoIntClassifier, AutoIntRegressor


def _columns(X):
    """Categorical and numeric columns (list columns are neither)."""
    lists = _list_columns(X)
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])
                   and c not in lists]
    return categorical, [c for c in X.columns if c not in categorical + lists]


def _list_columns(X):
    return [c for c in X.columns if X[c].dtype == object
            and X[c].map(lambda cell: isinstance(cell, list)).any()]


def _as_objects(X):
    """pandas ``string`` columns as object columns with NaN: what scikit-learn's encoders take."""
    categorical, _ = _columns(X)
    return X.astype({c: object for c in categorical}).where(X.notna(), np.nan)


# ------------------------------------------------------------------------------------- models
def skautoint(seed, **params):
    return AutoIntClassifier(random_state=seed, **params)


#: skautoint 0.2's defaults written out (the network, training and field parameters a later
#: change of defaults may touch), so that the row "skautoint (0.2 defaults)" keeps measuring
#: them beside the new defaults in the same run. Its batch size and learning rate follow
#: 0.2's "auto" rules (:func:`defaults_0_2`); the buckets' rule is that of the code that
#: runs.
DEFAULTS_0_2 = {
    "activation": "relu", "attention_dim": 32, "attention_scaling": False,
    "continuous": "bucketize", "dropout": 0.0, "embedding_dim": 16,
    "embedding_weight_decay": 1e-3, "field_bias": False, "field_pair_bias": "none",
    "layer_norm": "none",
    "linear_term": False, "max_epochs": 100, "min_frequency": 2, "mlp_hidden_units": (),
    "multi_valued_pooling": "mean", "n_heads": 2, "n_iter_no_change": 5, "n_layers": 3,
    "output_projection": "none", "projection_bias": False, "residual": "projected",
    "tol": 1e-4, "validation_fraction": 0.1, "weight_decay": 0.0, "precision": "float32",
}


def defaults_0_2(X):
    """Every parameter :data:`DEFAULTS_0_2` names, and 0.2's "auto" batch size (about 100
    steps per epoch, a power of 2 in [32, 1024]) and learning rate (``1e-3 * sqrt(batch /
    256)``, at least 5e-4) for the rows ``X``."""
    batch = int(min(1024, max(32, 2 ** round(math.log2(max(len(X), 1) / 100)))))
    return {**DEFAULTS_0_2, "batch_size": batch,
            "learning_rate": max(5e-4, 1e-3 * math.sqrt(batch / 256))}


def skautoint_plus(seed):
    return AutoIntClassifier(random_state=seed, mlp_hidden_units=(256, 128))


def skautoint_regressor(seed, **params):
    return AutoIntRegressor(random_state=seed, **params)


#: How the linear baselines read a number (median-imputed, with a missing flag, first).
NUMBER_ENCODINGS = {
    "bins": lambda: KBinsDiscretizer(n_bins=10, encode="onehot", strategy="quantile",
                                     quantile_method="averaged_inverted_cdf"),
    "scaled": StandardScaler,
    # cubic B-splines on 5 quantile knots (4 + 2 columns a number), then standardised
    "splines": lambda: make_pipeline(SplineTransformer(knots="quantile"), StandardScaler()),
}


def _linear(seed, X, model, numbers):
    """One-hot categories (levels seen once grouped); numbers median-imputed with a missing
    flag, then encoded as ``NUMBER_ENCODINGS[numbers]``; ``model`` on top."""
    categorical, numeric = _columns(X)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=2), categorical),
        (make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                       NUMBER_ENCODINGS[numbers]()), numeric),
    )
    return make_pipeline(FunctionTransformer(_as_objects), encode, model)


def logistic_regression(seed, X, numbers="bins"):
    """Logistic regression on one-hot categories and numbers cut into 10 quantile bins (the
    default), standardised (``numbers="scaled"``) or as standardised splines."""
    return _linear(seed, X, LogisticRegression(max_iter=5000, random_state=seed), numbers)


def ridge(seed, X, numbers="scaled"):
    """``Ridge(alpha=1)`` on one-hot categories and standardised numbers (or splines).
    Deterministic."""
    return _linear(seed, X, Ridge(), numbers)


def hist_gradient_boosting_target_encoder(seed, X, estimator=HistGradientBoostingClassifier):
    """HistGradientBoosting on scikit-learn's ``TargetEncoder`` of every categorical column
    (cross-fitted inside ``fit_transform`` on 5 shuffled folds, stratified for a classifier,
    so no row sees its own label)
    and the numbers. A regressor's target is declared continuous (whole-number targets, such
    as ratings, would otherwise be read as classes)."""
    categorical, numeric = _columns(X)
    regression = is_regressor(estimator())
    folds = (KFold if regression else StratifiedKFold)(5, shuffle=True, random_state=seed)
    encode = make_column_transformer(
        (TargetEncoder(target_type="continuous" if regression else "auto", cv=folds),
         categorical),
        ("passthrough", numeric),
    )
    return make_pipeline(FunctionTransformer(_as_objects), encode,
                         estimator(random_state=seed))


def hist_gradient_boosting(seed, X, estimator=HistGradientBoostingClassifier, **params):
    """Native categorical support; levels beyond 250 per column grouped (HGB's 255-bin limit)."""
    categorical, numeric = _columns(X)
    encode = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                        encoded_missing_value=np.nan, max_categories=250), categorical),
        ("passthrough", numeric),
    )
    mask = [True] * len(categorical) + [False] * len(numeric)
    return make_pipeline(FunctionTransformer(_as_objects), encode,
                         estimator(categorical_features=mask, random_state=seed, **params))


class TopLevelsMultiHot(BaseEstimator, TransformerMixin):
    """Each list column as 0/1 columns of its ``top`` most frequent levels in fit."""

    def __init__(self, top=50):
        self.top = top

    def fit(self, X, y=None):
        self.levels_ = {c: pd.Series([v for cell in X[c] for v in cell]).value_counts()
                        .index[:self.top].tolist() for c in X.columns}
        return self

    def transform(self, X):
        blocks = []
        for column, levels in self.levels_.items():
            position = {level: j for j, level in enumerate(levels)}
            block = np.zeros((len(X), len(levels)), dtype=np.float32)
            for i, cell in enumerate(X[column]):
                for level in cell:
                    if level in position:
                        block[i, position[level]] = 1.0
            blocks.append(block)
        return np.hstack(blocks)


def hist_gradient_boosting_multi_hot(seed, X, top=50):
    """HistGradientBoosting as above, with each list column as a multi-hot of its ``top``
    most frequent levels."""
    categorical, numeric = _columns(X)
    lists = _list_columns(X)
    encode = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                        encoded_missing_value=np.nan, max_categories=250), categorical),
        ("passthrough", numeric),
        (TopLevelsMultiHot(top), lists),
    )
    as_objects = FunctionTransformer(lambda X: X.astype(
        {c: object for c in categorical}).assign(**{c: X[c].where(X[c].notna(), np.nan)
                                                    for c in categorical}))
    return make_pipeline(as_objects, encode, HistGradientBoostingClassifier(
        categorical_features=list(range(len(categorical))), random_state=seed))


class _Dropping:
    """``model`` fitted and applied on X without ``columns``."""

    def __init__(self, model, columns):
        self.model, self.columns = model, columns

    def fit(self, X, y):
        self.model.fit(X.drop(columns=self.columns), y)
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X.drop(columns=self.columns))


#: The viewing-history sets of ``--lists``: every user in both sides (with and without their
#: identifier), and new users (20% of the users held out, known by attributes and history).
HISTORY_SETS = {
    "movielens_history": datasets.movielens_history,
    "movielens_history_no_id": datasets.movielens_history_no_id,
    "movielens_history_new_users": functools.partial(datasets.movielens_history,
                                                     split="new_users"),
}
#: The data sets ``--lists --datasets`` chooses from.
LIST_SETS = ["movielens_genres", *HISTORY_SETS]


def list_column_runs():
    """The runs of ``--lists``: (data set of ``LIST_SETS``, loader, models), one per form of
    the MovieLens genres and one per history set."""
    genre_forms = {
        "genres as one multi-valued field": "list", "19 binary genre columns": "binary",
        "genres as one joined level (before)": "joined", "genres dropped": "dropped"}
    yield from (("movielens_genres", functools.partial(datasets.movielens_genres, form),
                 {name: lambda seed, X: skautoint(seed)})
                for name, form in genre_forms.items())
    lists = datasets.HISTORY_LISTS
    models = {
        "skautoint, with the list columns": lambda seed, X: skautoint(seed),
        "skautoint, without the list columns": lambda seed, X: _Dropping(skautoint(seed),
                                                                         lists),
        "HistGradientBoosting, multi-hot of the top 50 levels": hist_gradient_boosting_multi_hot,
        "HistGradientBoosting, without the list columns": lambda seed, X: _Dropping(
            hist_gradient_boosting(seed, X.drop(columns=lists)), lists),
    }
    for name, loader in HISTORY_SETS.items():
        yield name, loader, models


class LightGBM:
    """LGBMClassifier (LGBMRegressor with ``regression=True``) on pandas ``category`` columns
    (test levels mapped onto train's). One thread (``n_jobs=1``): LightGBM does not always
    follow ``OMP_NUM_THREADS``, and its spinning OpenMP threads on a busy 2-core machine turned
    a 0.1 s fit into 30-100 s."""

    def __init__(self, seed, regression=False):
        from lightgbm import LGBMClassifier, LGBMRegressor

        model = LGBMRegressor if regression else LGBMClassifier
        self.model = model(random_state=seed, verbose=-1, n_jobs=1)

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

    def predict(self, X):
        return self.model.predict(self._frame(X))


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
    "skautoint (0.2 defaults)": lambda seed, X: skautoint(seed, **defaults_0_2(X)),
    "skautoint AutoInt+": lambda seed, X: skautoint_plus(seed),
    "skautoint + target statistics": lambda seed, X: skautoint(seed, target_statistics="auto"),
    "LogisticRegression": logistic_regression,
    "LogisticRegression (scaled numbers)": functools.partial(logistic_regression,
                                                            numbers="scaled"),
    "LogisticRegression (splines)": functools.partial(logistic_regression, numbers="splines"),
    "HistGradientBoosting": hist_gradient_boosting,
    "HGB + TargetEncoder": hist_gradient_boosting_target_encoder,
    "LightGBM": lambda seed, X: LightGBM(seed),
    "DeepCTR-Torch AutoInt": lambda seed, X: DeepCTRAutoInt(seed),
}
REGRESSION_MODELS = {
    "skautoint": lambda seed, X: skautoint_regressor(seed),
    "skautoint (0.2 defaults)": lambda seed, X: skautoint_regressor(seed, **defaults_0_2(X)),
    "skautoint + target statistics": lambda seed, X: skautoint_regressor(
        seed, target_statistics="auto"),
    "Ridge": lambda seed, X: ridge(seed, X),
    "Ridge (splines)": lambda seed, X: ridge(seed, X, numbers="splines"),
    "HistGradientBoosting": functools.partial(hist_gradient_boosting,
                                              estimator=HistGradientBoostingRegressor),
    "HGB + TargetEncoder": functools.partial(hist_gradient_boosting_target_encoder,
                                             estimator=HistGradientBoostingRegressor),
    "LightGBM": lambda seed, X: LightGBM(seed, regression=True),
}
COUNT_MODELS = {  # the count target: the regression models, and both Poisson losses
    **REGRESSION_MODELS,
    "skautoint poisson": lambda seed, X: skautoint_regressor(seed, loss="poisson"),
    "HistGradientBoosting poisson": functools.partial(
        hist_gradient_boosting, estimator=HistGradientBoostingRegressor, loss="poisson"),
}
VARIANTS = {  # the network variants of DESIGN.md, each on top of the defaults
    "default (field-pair bias in layer 1)": {},
    "paper attention (no field-pair bias)": {"field_pair_bias": "none"},
    "field-pair bias in every layer": {"field_pair_bias": "all_layers"},
    "numbers embedded (paper's x*v)": {"continuous": "embed"},
    "numbers piecewise linear": {"continuous": "piecewise_linear"},
    "scaled attention + LayerNorm": {"attention_scaling": True,
                                     "layer_norm": "after_activation"},
    "with linear term": {"linear_term": True},
    "AutoInt+ (MLP 256-128)": {"mlp_hidden_units": (256, 128)},
    # The transformer's block: W_O per field back to the embedding width (so the identity
    # residual fits; attention_dim * n_heads need not equal embedding_dim), LayerNorm after the
    # residual, no activation, biases, scaled attention, dropout, a per-field (positional)
    # vector and a linear term. 2 heads of 8 = the embedding width of 16.
    "transformer block": {"output_projection": "per_field", "residual": "identity",
                          "layer_norm": "after_residual", "activation": "none",
                          "projection_bias": True, "attention_scaling": True, "dropout": 0.1,
                          "field_bias": True, "linear_term": True, "attention_dim": 8},
    "wide heads (2 x 16, scaled, W_O per field)": {
        "attention_dim": 16, "attention_scaling": True, "output_projection": "per_field",
        "projection_bias": True},
    "flattened projection": {"output_projection": "flattened", "projection_bias": True},
    "LayerNorm after residual (FuxiCTR)": {"layer_norm": "after_residual"},
}


def variant_models(regression=False):
    build = skautoint_regressor if regression else skautoint
    return {name: functools.partial(lambda seed, X, params: build(seed, **params),
                                    params=params)
            for name, params in VARIANTS.items()}


MULTICLASS_MODELS = {name: BINARY_MODELS[name] for name in
                     ["skautoint", "skautoint (0.2 defaults)", "skautoint AutoInt+",
                      "skautoint + target statistics", "LogisticRegression",
                      "LogisticRegression (scaled numbers)", "LogisticRegression (splines)",
                      "HistGradientBoosting", "HGB + TargetEncoder", "LightGBM"]}
DETERMINISTIC = ("LogisticRegression", "Ridge")  # one seed is all seeds


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


def regression_score(y, prediction, count=False):
    scores = {"RMSE": root_mean_squared_error(y, prediction),
              "MAE": mean_absolute_error(y, prediction),
              "R²": r2_score(y, prediction)}
    if count:  # the deviance needs positive predictions: a linear model's are clipped at 1e-6
        scores["Poisson deviance"] = mean_poisson_deviance(y, np.maximum(prediction, 1e-6))
    return scores


@functools.cache
def warm_up():
    """Fit a tiny network once, so that no timed fit pays torch's one-time start-up."""
    X = pd.DataFrame({"a": ["x", "y"] * 50, "b": np.arange(100.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        AutoIntClassifier(max_epochs=2, random_state=0).fit(X, np.arange(100) % 2)


def run(loader, models, seeds, task="classification"):
    X_train, y_train, X_test, y_test = loader()
    warm_up()
    rows = []
    for name, build in models.items():
        for seed in range(seeds):
            model = build(seed, X_train)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            if task == "classification":
                scores = score(y_test, model.predict_proba(X_test))
            else:
                scores = regression_score(y_test, model.predict(X_test), task == "count")
            rows.append({"model": name, "seed": seed, **scores, "fit s": seconds})
            print(f"  {name}, seed {seed}: fit {seconds:.1f} s", file=sys.stderr, flush=True)
            if name.startswith(DETERMINISTIC):
                break  # deterministic: one seed is all seeds
    return pd.DataFrame(rows)


METRICS = ["ROC AUC", "log-loss", "accuracy", "ECE", "RMSE", "MAE", "R²", "Poisson deviance",
           "fit s"]


def summary(results):
    metrics = [c for c in METRICS if c in results.columns]
    grouped = results.groupby("model", sort=False)[metrics]
    mean, std = grouped.mean(), grouped.std(ddof=0).fillna(0.0)
    table = pd.DataFrame(index=mean.index)
    for metric in metrics:
        digits = 1 if metric == "fit s" else 4
        if metric in ("RMSE", "MAE") and mean[metric].abs().max() >= 100:
            digits = 1  # credit amounts in DM
        table[metric] = [f"{m:.{digits}f} ± {s:.{digits}f}"
                         for m, s in zip(mean[metric], std[metric], strict=True)]
    return table


def rmse_ratios(results):
    """skautoint's mean RMSE over each peer's (and Poisson over Poisson where both ran)."""
    rmse = results.groupby("model", sort=False)["RMSE"].mean()
    ratios = {}
    for ours, peers in [("skautoint", ["HistGradientBoosting", "HGB + TargetEncoder", "Ridge",
                                       "Ridge (splines)", "LightGBM"]),
                        ("skautoint poisson", ["HistGradientBoosting poisson",
                                               "HistGradientBoosting", "Ridge"])]:
        for peer in peers:
            if ours in rmse and peer in rmse:
                ratios[f"{ours} RMSE / {peer} RMSE"] = rmse[ours] / rmse[peer]
    return ratios


def regression_verdicts(ratios):
    """The regression targets: RMSE within 5% of HistGradientBoosting on average over the
    sets, and below Ridge's on every set."""
    hgb = {name: r["skautoint RMSE / HistGradientBoosting RMSE"] for name, r in ratios.items()
           if "skautoint RMSE / HistGradientBoosting RMSE" in r}
    ridge = {name: r["skautoint RMSE / Ridge RMSE"] for name, r in ratios.items()
             if "skautoint RMSE / Ridge RMSE" in r}
    lines = []
    if hgb:
        mean = np.mean(list(hgb.values()))
        lines.append(f"- RMSE within 5% of HistGradientBoosting on average over {len(hgb)} "
                     f"sets: mean ratio {mean:.4f} -> {'met' if mean <= 1.05 else 'missed'}")
    if ridge:
        worse = [name for name, r in ridge.items() if r >= 1]
        lines.append("- RMSE below Ridge on every set: ratios "
                     + ", ".join(f"{name} {r:.4f}" for name, r in ridge.items())
                     + (" -> met" if not worse else f" -> missed on {', '.join(worse)}"))
    return lines


#: The peers of the quality issue's targets: skautoint's ROC AUC on every binary set at least
#: the linear model's, and its mean over the sets at least the best boosting model's.
LINEAR_PEER = "LogisticRegression (scaled numbers)"
BOOSTING_PEERS = ("HistGradientBoosting", "HGB + TargetEncoder", "LightGBM")


def classification_verdicts(aucs):
    """The quality targets from ``aucs`` (data set -> model -> mean ROC AUC over seeds, binary
    sets only): skautoint >= the linear peer on every set, and skautoint's mean over the sets
    >= the best boosting peer's mean."""
    lines = []
    linear = {name: auc["skautoint"] - auc[LINEAR_PEER] for name, auc in aucs.items()
              if "skautoint" in auc and LINEAR_PEER in auc}
    if linear:
        worse = [name for name, gap in linear.items() if gap < 0]
        lines.append(f"- ROC AUC >= {LINEAR_PEER} on every set: differences "
                     + ", ".join(f"{name} {gap:+.4f}" for name, gap in linear.items())
                     + (" -> met" if not worse else f" -> missed on {', '.join(worse)}"))
    complete = [name for name, auc in aucs.items()
                if all(model in auc for model in ("skautoint", *BOOSTING_PEERS))]
    if not complete:
        lines.append("- mean ROC AUC against the boosting peers: not checked (it needs "
                     f"skautoint and every one of {', '.join(BOOSTING_PEERS)} in --models)")
    else:
        means = {model: np.mean([aucs[name][model] for name in complete])
                 for model in ("skautoint", *BOOSTING_PEERS)}
        best = max(BOOSTING_PEERS, key=means.get)
        lines.append(f"- mean ROC AUC over {len(complete)} sets >= the best boosting peer's: "
                     + ", ".join(f"{model} {value:.4f}" for model, value in means.items())
                     + f" -> {'met' if means['skautoint'] >= means[best] else 'missed'}")
    return lines


OLD_DEFAULTS = "skautoint (0.2 defaults)"


def time_to_accuracy(name, results):
    """One line for the speed issue's target: the default's fit seconds over 0.2's, and the
    difference of the quality metric (ROC AUC, else log-loss, else RMSE) against the seed
    noise (the larger of the two stds), from ``results`` of one data set; None without both
    rows."""
    metric, better = next((m, sign) for m, sign in (("ROC AUC", 1), ("log-loss", -1),
                                                    ("RMSE", -1)) if m in results)
    rows = results[results["model"].isin(["skautoint", OLD_DEFAULTS])]
    stats = rows.groupby("model")[[metric, "fit s"]].agg(["mean", "std"])
    if len(stats) < 2:
        return None
    new, old = stats.loc["skautoint"], stats.loc[OLD_DEFAULTS]
    ratio = new[("fit s", "mean")] / old[("fit s", "mean")]
    gain = better * (new[(metric, "mean")] - old[(metric, "mean")])
    noise = max(new[(metric, "std")], old[(metric, "std")])
    verdict = ("met" if ratio <= 0.5 and gain >= -noise else
               "missed: " + ", ".join(([f"time {ratio:.2f}x > 0.5x"] if ratio > 0.5 else [])
                                      + (["quality worse than the noise"] if gain < -noise
                                         else [])))
    return (f"- {name}: fit {new[('fit s', 'mean')]:.1f} s vs {old[('fit s', 'mean')]:.1f} s "
            f"({ratio:.2f}x); {metric} {new[(metric, 'mean')]:.4f} vs "
            f"{old[(metric, 'mean')]:.4f} (gain {gain:+.4f}, seed std {noise:.4f}) -> {verdict}")


SETS = {  # data set name -> (loader, task, peer models)
    **{name: (loader, "classification", BINARY_MODELS)
       for name, loader in datasets.BINARY.items()},
    **{name: (loader, "classification", MULTICLASS_MODELS)
       for name, loader in datasets.MULTICLASS.items()},
    **{name: (loader, "regression", REGRESSION_MODELS)
       for name, loader in datasets.REGRESSION.items()},
    **{name: (loader, "count", COUNT_MODELS) for name, loader in datasets.COUNT.items()},
}
DEFAULT_SETS = {"classification": [*datasets.BINARY, *datasets.MULTICLASS],
                "regression": [*datasets.REGRESSION, *datasets.COUNT]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=list(DEFAULT_SETS), default="classification",
                        help="which data sets --datasets defaults to: the binary and "
                             "multiclass sets, or the regression sets (default: "
                             "classification)")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated data set names, of either task (default: every "
                             f"set of --task); one of {', '.join(SETS)}")
    parser.add_argument("--models", default=None,
                        help="comma-separated model names (default: all)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--variants", action="store_true",
                        help="compare skautoint's network variants instead of the peers")
    parser.add_argument("--lists", action="store_true",
                        help="compare the forms of list columns (MovieLens genres and "
                             "viewing history)")
    args = parser.parse_args()
    if args.lists:
        names = None if args.datasets is None else args.datasets.split(",")
        unknown = [name for name in names or [] if name not in LIST_SETS]
        if unknown:
            parser.error(f"unknown --lists data set(s) {unknown}; choose from {LIST_SETS}")
        return list_columns_report(args.seeds, names)
    names = (DEFAULT_SETS[args.task] if args.datasets is None else args.datasets.split(","))
    unknown = [name for name in names if name not in SETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {list(SETS)}")
    chosen = None if args.models is None else args.models.split(",")
    ratios, aucs, speed = {}, {}, []
    for name in names:
        loader, task, models = SETS[name]
        if args.variants:
            models = variant_models(regression=task != "classification")
        if chosen is not None:
            models = {k: v for k, v in models.items() if k in chosen}
        results = run(loader, models, args.seeds, task)
        print(f"\n### {name} ({args.seeds} seeds, mean ± std)\n")
        table = summary(results)
        print(table.to_markdown() if _has_tabulate() else table.to_string(), flush=True)
        if not args.variants and (line := time_to_accuracy(name, results)):
            speed.append(line)
        if "ROC AUC" in results and not args.variants:
            aucs[name] = results.groupby("model", sort=False)["ROC AUC"].mean().to_dict()
        if task != "classification" and not args.variants:
            ratios[name] = rmse_ratios(results)
            print("\n" + "\n".join(f"- {k}: {v:.4f}" for k, v in ratios[name].items()),
                  flush=True)
    if aucs:
        print("\n### quality targets (skautoint defaults, mean ROC AUC over seeds)\n")
        print("\n".join(classification_verdicts(aucs)), flush=True)
    if speed:
        print("\n### time to accuracy (defaults against 0.2's, mean over seeds)\n")
        print("\n".join(speed), flush=True)
    if ratios:
        print("\n### regression targets (skautoint defaults, mean RMSE over seeds)\n")
        print("\n".join(regression_verdicts(ratios)), flush=True)


def list_columns_report(seeds, names=None):
    """Print the ``--lists`` tables (those of ``names``, default all of ``LIST_SETS``): the
    genre forms in one table, then each history set."""
    names = LIST_SETS if names is None else names
    genre_rows, tables = [], {}
    for name, loader, models in list_column_runs():
        if name not in names:
            continue
        results = run(loader, models, seeds)
        if name == "movielens_genres":
            genre_rows.append(results)
        else:
            tables[name] = results
    if genre_rows:
        tables = {"movielens (skautoint defaults; the genres in four forms)":
                  pd.concat(genre_rows), **tables}
    for name, results in tables.items():
        print(f"\n### {name} ({seeds} seeds, mean ± std)\n")
        table = summary(results)
        print(table.to_markdown() if _has_tabulate() else table.to_string(), flush=True)
        auc = results.groupby("model", sort=False)["ROC AUC"].mean()
        print("\n" + "\n".join(f"- {model}: ROC AUC {value - auc.iloc[0]:+.4f} against "
                                f"the first row" for model, value in auc.iloc[1:].items()))


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
