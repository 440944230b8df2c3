"""
Which fields interact: attention maps on MovieLens
==================================================

AutoInt's selling point is that its attention shows which fields it combines. Train on
MovieLens-100k (rating >= 4 as the positive class; user, item and the users' and items'
attributes as fields), then draw the field-by-field attention averaged over test rows, measure
how far it is from uniform, and rank the field pairs by what the predictions do.

Read the attention with care. The first layer learns a logit per pair of fields
(``field_pair_bias="first_layer"``, the default), so its map shows which fields each field
reads; the paper's layer, without it, stays uniform (every field mixing all fields with
weight 1/8), and so does the second layer here. The map below is the first layer's,
on a colour scale centred on uniform attention (white);
:func:`~skautoint.inspection.attention_entropy` puts a number on how far each layer is from
uniform. Attention says which fields the model combines, not how much the combination changes
a prediction: :func:`~skautoint.inspection.rank_interactions` asks the model itself.
Friedman's H measures how much each pair's joint effect on the predicted probability departs
from the sum of the two alone, whatever path in the network made it.

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
from skautoint.inspection import (
    AttentionMapDisplay,
    TrainingCurveDisplay,
    attention_entropy,
    rank_interactions,
)

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

    # %%
    # Left, the first layer's attention averaged over test rows and heads, on a scale centred
    # on uniform attention (white); right, the field pairs by Friedman's H, from partial
    # dependence on 60 test rows.
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), layout="constrained")
    display = AttentionMapDisplay.from_estimator(clf, X_test, layer=0, ax=left)
    print("pairs by attention:\n" + display.pairs_.head(5).to_string(index=False))
    pairs = rank_interactions(clf, X_test, n_rows=60, random_state=0)
    print("pairs by Friedman's H:\n" + pairs.head(5).round(4).to_string(index=False))
    top = pairs.head(10).iloc[::-1]
    right.barh(top["field_a"] + " x " + top["field_b"], top["strength"])
    right.set_xlabel("interaction strength: RMS of the pure pair effect on P(rating >= 4)")
    right.set_title("Field pairs by Friedman's H")

    # %%
    # How uniform is the attention? 1.0 is exactly uniform, 0 a field attending to one other.
    entropy = attention_entropy(clf.attention_weights(X_test.iloc[:1000]))
    print(entropy.round(3).to_string(index=False))

    # %%
    # The training curve: validation log-loss per epoch and the epoch whose weights were kept.
    TrainingCurveDisplay.from_estimator(clf)
