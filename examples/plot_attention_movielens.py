"""
Which fields interact: attention maps on MovieLens
==================================================

AutoInt's selling point is that its attention shows which fields it combines. Train on
MovieLens-100k (rating >= 4 as the positive class; user, item and the users' and items'
attributes as fields), then draw the field-by-field attention averaged over test rows and rank
the field pairs.

A film's genres are a *set* ("Action", "Comedy", ...): the ``genres`` column holds a list per
film, which the classifier detects as one multi-valued field whose vector is the mean of its
genres' embeddings (see :ref:`multi-valued`). So the map has one ``genres`` row and column,
and a genre combination it has never seen still shares what each of its genres learned.

MovieLens is not shipped with skautoint (its licence forbids redistribution): this example
reads it from ``../shared/data/movielens/ml-100k`` next to the repository, or from the folder
in the ``SKAUTOINT_MOVIELENS`` environment variable, and says so when it is absent.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from skautoint import AutoIntClassifier
from skautoint.inspection import AttentionMapDisplay, TrainingCurveDisplay

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # run interactively
    HERE = Path.cwd()
FOLDER = Path(os.environ.get("SKAUTOINT_MOVIELENS",
                             HERE.parent.parent / "shared" / "data" / "movielens" / "ml-100k"))


def load_movielens(folder):
    """Ratings joined with users and items: 7 categorical fields (genres a list per film)
    and the release year."""
    ratings = pd.read_csv(folder / "u.data", sep="\t", names=["user", "item", "rating", "time"])
    users = pd.read_csv(folder / "u.user", sep="|",
                        names=["user", "age", "gender", "occupation", "zip_code"])
    genres = pd.read_csv(folder / "u.genre", sep="|", names=["genre", "id"])["genre"].tolist()
    items = pd.read_csv(folder / "u.item", sep="|", encoding="latin-1", header=None,
                        names=["item", "title", "release", "video", "url", *genres])
    flags = items[genres].to_numpy(dtype=bool)
    items["genres"] = [[g for g, flag in zip(genres, row, strict=True) if flag]  # one list each
                       for row in flags]
    items["year"] = pd.to_datetime(items["release"], format="%d-%b-%Y").dt.year
    frame = ratings.merge(users, on="user").merge(items[["item", "genres", "year"]], on="item")
    frame = frame.sort_values("time", kind="stable")  # train on the past, test on the future
    X = frame[["user", "item", "age", "gender", "occupation", "zip_code", "genres", "year"]]
    X = X.astype({c: "string" for c in ["user", "item", "gender", "occupation", "zip_code"]})
    return X.reset_index(drop=True), (frame["rating"] >= 4).to_numpy()


if not (FOLDER / "u.data").is_file():
    print(f"MovieLens-100k not found at {FOLDER}: set SKAUTOINT_MOVIELENS to its folder. "
          "Skipping this example.")
else:
    X, y = load_movielens(FOLDER)
    X_train, y_train = X.iloc[:30000], y[:30000]  # a sample keeps the docs build short
    X_test = X.iloc[-5000:]
    clf = AutoIntClassifier(random_state=0).fit(X_train, y_train)
    print(f"{clf.n_iter_} epochs, best {clf.best_iteration_}; fields {clf.field_spec_.names}")

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), layout="constrained")
    TrainingCurveDisplay.from_estimator(clf, ax=left)
    display = AttentionMapDisplay.from_estimator(clf, X_test, ax=right)
    print(display.pairs_.head(8).to_string(index=False))
