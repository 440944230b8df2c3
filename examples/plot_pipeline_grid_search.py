"""
Pipeline and GridSearchCV
=========================

The field transformer as its own Pipeline step, tuned together with the network by
``GridSearchCV``: how many buckets the numeric columns get, and how many interacting layers
the network stacks. A 4,000-row sample of UCI Adult keeps the search short.
"""

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
