"""SHAP: explain the raw DataFrame, string columns included."""
import numpy as np
import pandas as pd
import shap

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
X, y = X.iloc[:2000], y.iloc[:2000]
model = AutoIntClassifier(max_epochs=3, random_state=0).fit(X, y)

# SHAP's tabular maskers mix rows numerically: give them each string level as its position
# in the column's levels (-1 for missing), and turn the positions back into the levels
# before predicting, so that the model sees the strings it was trained on.
text = X.select_dtypes(exclude="number").columns
levels = {column: pd.Categorical(X[column]).categories for column in text}


def to_numbers(frame):
    numbers = frame.copy()
    for column in text:
        numbers[column] = pd.Categorical(frame[column], categories=levels[column]).codes
    return numbers.to_numpy(dtype=float)


def positive_proba(rows):
    frame = pd.DataFrame(rows, columns=X.columns)
    for column in text:
        codes = frame[column].to_numpy().astype(int)
        frame[column] = np.where(codes >= 0, levels[column].to_numpy()[codes.clip(0)], None)
    return model.predict_proba(frame)[:, 1]


background = shap.maskers.Independent(to_numbers(X.sample(50, random_state=0)))
explainer = shap.PermutationExplainer(positive_proba, background, seed=0,
                                      feature_names=list(X.columns))
explanation = explainer(to_numbers(X.iloc[:5]), silent=True)
importance = pd.Series(np.abs(explanation.values).mean(axis=0), index=X.columns)
print(importance.sort_values(ascending=False).head(5).round(3))
