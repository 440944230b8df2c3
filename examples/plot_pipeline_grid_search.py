"""
Pipeline and GridSearchCV
=========================

The field transformer as its own Pipeline step, tuned together with the network by
``GridSearchCV``: how many buckets the numeric columns get, and how many interacting layers
the network stacks. A 4,000-row sample of UCI Adult keeps the search short.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautoint import AutoIntClassifier, make_field_transformer
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
X_test, y_test = load_adult(subset="test", return_X_y=True)
X, y = X.iloc[:4000], y.iloc[:4000]

pipeline = make_pipeline(make_field_transformer(),
                         AutoIntClassifier(max_epochs=15, random_state=0))
search = GridSearchCV(
    pipeline,
    {"fieldtransformer__n_bins": [8, 32], "autointclassifier__n_layers": [1, 3]},
    scoring="roc_auc", cv=2,
)
search.fit(X, y)

results = pd.DataFrame(search.cv_results_)[["params", "mean_test_score", "mean_fit_time"]]
print(results.sort_values("mean_test_score", ascending=False).to_string(index=False))
print("best:", search.best_params_)
print(f"test ROC AUC of the refitted best pipeline: {search.score(X_test, y_test):.4f}")

# %%
# The mean cross-validated ROC AUC of each pair of settings.
scores = results.assign(
    n_bins=[p["fieldtransformer__n_bins"] for p in results["params"]],
    n_layers=[p["autointclassifier__n_layers"] for p in results["params"]],
).pivot(index="n_layers", columns="n_bins", values="mean_test_score")
fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
image = ax.imshow(scores.to_numpy(), cmap="viridis")
ax.set_xticks(range(len(scores.columns)), labels=scores.columns)
ax.set_yticks(range(len(scores.index)), labels=scores.index)
ax.set_xlabel("fieldtransformer__n_bins")
ax.set_ylabel("autointclassifier__n_layers")
middle = (scores.to_numpy().min() + scores.to_numpy().max()) / 2
for (i, j), value in np.ndenumerate(scores.to_numpy()):  # dark text on the light cells
    ax.text(j, i, f"{value:.4f}", ha="center", va="center",
            color="black" if value > middle else "white")
fig.colorbar(image, ax=ax, label="mean CV ROC AUC")
