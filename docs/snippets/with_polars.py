"""polars: frames in, the same model as from pandas."""
import polars as pl

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
frame = pl.from_pandas(X.iloc[:2000]).with_columns(income=pl.Series(y.iloc[:2000].to_numpy()))

model = AutoIntClassifier(max_epochs=3, random_state=0)
model.fit(frame.drop("income"), frame["income"])  # String columns are categorical fields
proba = model.predict_proba(frame.drop("income").head(5))
print(model.feature_names_in_[:4], proba.round(3)[:, 1])
