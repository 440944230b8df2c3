"""
Regression: hours worked per week, with a prediction interval
=============================================================

:class:`~skautoint.AutoIntRegressor` is the same network as the classifier with one output and
a regression loss. Here it predicts how many hours a week the people of the UCI Adult census
work, from their other columns (age, occupation, sex, marital status, ...), next to
scikit-learn's gradient boosting and a ridge regression on one-hot columns. The target is
standardised inside the estimator, so no ``TransformedTargetRegressor`` is needed. Two more
fits with ``loss="quantile"`` give an 80% prediction interval.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skautoint import AutoIntRegressor
from skautoint.datasets import load_adult

X, _ = load_adult(return_X_y=True)
X_test, _ = load_adult(subset="test", return_X_y=True)
X, X_test = X.iloc[:12_000], X_test.iloc[:4_000]  # a quick example: part of each split
y, y_test = X.pop("hours_per_week"), X_test.pop("hours_per_week")

# %%
# Three regressors on the same raw columns
# -----------------------------------------
# skautoint and gradient boosting take the DataFrame as it is (strings, NaN); the ridge
# regression needs one-hot encoding and scaling.
categorical = make_column_selector(dtype_include=[object, "string"])
ridge = make_pipeline(
    make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="most_frequent"),
                       OneHotEncoder(handle_unknown="ignore")), categorical),
        remainder=StandardScaler(),
    ),
    Ridge(),
)
hgb = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
models = {
    "AutoIntRegressor": AutoIntRegressor(random_state=0),
    "HistGradientBoosting": hgb,
    "Ridge (one-hot)": ridge,
}
X_hgb = X.astype({c: "category" for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])})
X_test_hgb = X_test.astype(X_hgb.dtypes.to_dict())
rows = {}
for name, model in models.items():
    train, test = (X_hgb, X_test_hgb) if model is hgb else (X, X_test)
    prediction = model.fit(train, y).predict(test)
    rows[name] = {"test RMSE": root_mean_squared_error(y_test, prediction),
                  "test MAE": mean_absolute_error(y_test, prediction),
                  "test R²": model.score(test, y_test)}
rows["the mean (a constant)"] = {
    "test RMSE": root_mean_squared_error(y_test, np.full(len(y_test), y.mean())),
    "test MAE": mean_absolute_error(y_test, np.full(len(y_test), y.mean())),
    "test R²": 0.0,
}
print(pd.DataFrame(rows).T.round(3))

# %%
# An 80% prediction interval from two quantile fits
# -------------------------------------------------
# ``loss="quantile"`` predicts the requested quantile of the hours, given the other columns.
low = AutoIntRegressor(loss="quantile", quantile=0.1, random_state=0).fit(X, y)
high = AutoIntRegressor(loss="quantile", quantile=0.9, random_state=0).fit(X, y)
lower, upper = low.predict(X_test), high.predict(X_test)
inside = ((y_test >= lower) & (y_test <= upper)).mean()
print(f"test rows inside the 10%-90% interval: {inside:.1%} (80% expected)")

order = np.argsort(models["AutoIntRegressor"].predict(X_test[:200]))
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.fill_between(np.arange(200), lower[:200][order], upper[:200][order], alpha=0.3,
                label="10%-90% quantile fits")
ax.plot(models["AutoIntRegressor"].predict(X_test[:200])[order], label="mean (squared error)")
ax.scatter(np.arange(200), y_test[:200].to_numpy()[order], s=6, color="black",
           label="observed")
ax.set_xlabel("200 test rows, by predicted mean")
ax.set_ylabel("hours per week")
ax.legend(loc="upper left")
plt.show()
