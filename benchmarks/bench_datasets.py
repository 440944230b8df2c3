"""Loaders for the benchmark data sets in ``../shared/data``, with fixed, documented splits.

Each loader returns ``(X_train, y_train, X_test, y_test)``: raw DataFrames (categorical columns
as pandas ``string``, numeric as float) and integer targets (float targets for the regression
sets). The splits never change with the benchmark seed: Adult keeps its official train/test
files; every other set is split once, 80/20 with ``random_state=0`` (stratified by class for
classification, plain for regression; ``movielens_history(split="new_users")`` by user). The
files are read in place and never copied.
"""

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

CRITEO_COLUMNS = ["label"] + [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]
GERMAN_COLUMNS = [
    "checking_status", "duration", "credit_history", "purpose", "credit_amount", "savings_status",
    "employment", "installment_rate", "personal_status", "other_parties", "residence_since",
    "property_magnitude", "age", "other_payment_plans", "housing", "existing_credits", "job",
    "num_dependents", "own_telephone", "foreign_worker", "class",
]


def _split(X, y, stratify=True):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y if stratify else None, random_state=0
    )
    return (X_train.reset_index(drop=True), y_train.reset_index(drop=True).to_numpy(),
            X_test.reset_index(drop=True), y_test.reset_index(drop=True).to_numpy())


def _as_strings(frame, columns):
    return frame.astype({column: "string" for column in columns})


def criteo(data=DATA):
    """Criteo: the first 10,000 rows of Kaggle's train.txt; 13 counts, 26 hashed categories."""
    frame = pd.read_csv(data / "criteo" / "criteo_kaggle_train_head10000.txt", sep="\t",
                        header=None, names=CRITEO_COLUMNS,
                        dtype={f"C{i}": "string" for i in range(1, 27)})
    frame = frame.astype({f"I{i}": "float64" for i in range(1, 14)})
    return _split(frame.drop(columns="label"), frame["label"])


def avazu(data=DATA):
    """Avazu: the first 8,999 rows; 22 categorical fields (the row ``id`` is dropped)."""
    frame = pd.read_csv(data / "avazu" / "avazu_train_head8999.csv", dtype=str)
    y = frame.pop("click").astype(int)
    frame = frame.drop(columns="id")
    return _split(_as_strings(frame, frame.columns), y)


def _movielens_tables(data):
    folder = data / "movielens" / "ml-100k"
    ratings = pd.read_csv(folder / "u.data", sep="\t",
                          names=["user_id", "item_id", "rating", "timestamp"])
    users = pd.read_csv(folder / "u.user", sep="|",
                        names=["user_id", "age", "gender", "occupation", "zip_code"])
    genres = pd.read_csv(folder / "u.genre", sep="|", names=["genre", "genre_id"])["genre"]
    items = pd.read_csv(folder / "u.item", sep="|", encoding="latin-1",
                        names=["item_id", "title", "release_date", "video_release_date",
                               "imdb_url", *genres])
    items["release_year"] = pd.to_datetime(items["release_date"], format="%d-%b-%Y").dt.year
    return ratings, users, items, list(genres)


def _movielens_frame(data, genres="joined"):
    """The MovieLens fields, with the genres as one joined string ("Action|Comedy", a level of
    its own), a list (one multi-valued field), 19 binary columns, or dropped."""
    ratings, users, items, names = _movielens_tables(data)
    flags = items[names].to_numpy(dtype=bool)
    if genres == "joined":
        items["genres"] = ["|".join(np.asarray(names)[row]) for row in flags]
    elif genres == "list":
        items["genres"] = [list(np.asarray(names)[row]) for row in flags]
    frame = ratings.merge(users, on="user_id").merge(items, on="item_id")
    columns = ["user_id", "item_id", "age", "gender", "occupation", "zip_code"]
    genre_columns = {"joined": ["genres"], "list": ["genres"], "binary": names,
                     "dropped": []}[genres]
    X = frame[columns + genre_columns + ["release_year"]]
    strings = ["user_id", "item_id", "gender", "occupation", "zip_code"]
    X = _as_strings(X, strings + (["genres"] if genres == "joined" else []))
    X = X.astype({"age": "float64", "release_year": "float64",
                  **({name: "float64" for name in names} if genres == "binary" else {})})
    return X, frame["rating"]


def movielens_genres(genres, data=DATA):
    """``movielens`` with the genres in one of the forms of ``_movielens_frame``."""
    X, rating = _movielens_frame(data, genres)
    return _split(X, (rating >= 4).astype(int))


def movielens_history(data=DATA, history=10, split="ratings"):
    """MovieLens-100k as CTR with list columns that carry signal: each rating (liked = rating
    >= 4) with the film's genres and the user's last ``history`` liked and disliked (rating
    <= 2) films and their genres, all from strictly earlier ratings, so nothing of the
    target leaks; user, film and the user's attributes beside them.

    ``split="ratings"`` splits the ratings 80/20 (every user is in both sides);
    ``split="new_users"`` holds out 20% of the users with all their ratings
    (``GroupShuffleSplit``, ``random_state=0``) and drops ``user_id``, which no test row
    could use: a new user is known by their attributes and their history only."""
    ratings, users, items, names = _movielens_tables(data)
    flags = items.set_index("item_id")[names].to_numpy(dtype=bool)
    genre_lists = {item: list(np.asarray(names)[row])
                   for item, row in zip(items["item_id"], flags, strict=True)}
    ratings = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    liked, disliked, liked_genres = [], [], []
    for _, user in ratings.groupby("user_id", sort=False):
        seen_liked, seen_disliked, last_time, pending = [], [], None, []
        for item, rating, time in zip(user["item_id"], user["rating"], user["timestamp"],
                                      strict=True):
            if time != last_time:  # ratings of one second are not each other's history
                for pending_item, pending_rating in pending:
                    if pending_rating >= 4:
                        seen_liked.append(str(pending_item))
                    elif pending_rating <= 2:
                        seen_disliked.append(str(pending_item))
                pending, last_time = [], time
            liked.append(seen_liked[-history:])
            disliked.append(seen_disliked[-history:])
            liked_genres.append([g for i in seen_liked[-history:] for g in genre_lists[int(i)]])
            pending.append((item, rating))
    ratings = ratings.assign(liked_items=liked, disliked_items=disliked,
                             liked_genres=liked_genres)
    frame = ratings.merge(users, on="user_id").merge(
        items[["item_id", "release_year"]].assign(genres=items["item_id"].map(genre_lists)),
        on="item_id")
    X = frame[["user_id", "item_id", "age", "gender", "occupation", "genres", "liked_items",
               "disliked_items", "liked_genres", "release_year"]]
    X = _as_strings(X, ["user_id", "item_id", "gender", "occupation"]).astype(
        {"age": "float64", "release_year": "float64"})
    y = (frame["rating"] >= 4).astype(int)
    if split not in ("ratings", "new_users"):
        raise ValueError(f"split must be 'ratings' or 'new_users'; got {split!r}.")
    if split == "ratings":
        return _split(X, y)
    train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0).split(
        X, y, groups=X["user_id"]))
    X = X.drop(columns="user_id")
    return (X.iloc[train].reset_index(drop=True), y.iloc[train].to_numpy(),
            X.iloc[test].reset_index(drop=True), y.iloc[test].to_numpy())


def movielens_history_no_id(data=DATA):
    """``movielens_history`` without ``user_id``: each user known by their attributes and
    history only (the ratings split as in ``movielens_history``)."""
    X_train, y_train, X_test, y_test = movielens_history(data)
    return X_train.drop(columns="user_id"), y_train, X_test.drop(columns="user_id"), y_test


#: The list columns of ``movielens_history``.
HISTORY_LISTS = ["genres", "liked_items", "disliked_items", "liked_genres"]


def movielens(data=DATA):
    """MovieLens-100k as CTR: liked = rating >= 4; user, item, user attributes, genres, year."""
    X, rating = _movielens_frame(data)
    return _split(X, (rating >= 4).astype(int))


def movielens_ratings(data=DATA):
    """MovieLens-100k, multiclass: the rating 1-5 itself (classes 0-4)."""
    X, rating = _movielens_frame(data)
    return _split(X, rating - 1)


def _adult_frames():
    from skautoint.datasets import load_adult

    X, y = load_adult(return_X_y=True)
    X_test, y_test = load_adult(subset="test", return_X_y=True)
    categorical = X.select_dtypes(exclude="number").columns
    numeric = X.select_dtypes("number").columns
    def prepare(frame):
        return _as_strings(frame, categorical).astype({c: "float64" for c in numeric})
    return prepare(X), y, prepare(X_test), y_test


def adult(data=DATA):
    """UCI Adult with its official train (32,561) and test (16,281) files."""
    X, y, X_test, y_test = _adult_frames()
    return (X, (y == ">50K").to_numpy().astype(int),
            X_test, (y_test == ">50K").to_numpy().astype(int))


def _german_frame(data):
    frame = pd.read_csv(data / "german_credit" / "german.data", sep=" ", header=None, skiprows=1,
                        names=GERMAN_COLUMNS)
    categorical = frame.select_dtypes(exclude="number").columns
    return _as_strings(frame, categorical).astype(
        {c: "float64" for c in frame.select_dtypes("number").columns.drop("class")})


def german_credit(data=DATA):
    """Statlog German credit (1,000 rows): 13 categorical, 7 numeric; target good credit."""
    frame = _german_frame(data)
    y = (frame.pop("class") == 1).astype(int)
    return _split(frame, y)


def titanic(data=DATA):
    """Titanic (OpenML 40945, 1,309 rows); ``boat`` and ``body`` leak the target and are dropped,
    as is the free-text ``name``; ``ticket``, ``cabin`` and ``home.dest`` (renamed
    ``home_dest``) stay as categories."""
    with gzip.open(data / "titanic" / "titanic_openml40945.arff.gz", "rt") as file:
        lines = file.read().splitlines()
    columns = [line.split()[1].strip("'") for line in lines
               if line.lower().startswith("@attribute")]
    start = next(i for i, line in enumerate(lines) if line.lower().startswith("@data")) + 1
    frame = pd.read_csv(io.StringIO("\n".join(lines[start:])), names=columns, na_values="?",
                        quotechar='"')
    y = frame.pop("survived").astype(int)
    frame = frame.drop(columns=["boat", "body", "name"]).rename(columns={"home.dest": "home_dest"})
    categorical = ["pclass", "sex", "ticket", "cabin", "embarked", "home_dest"]
    frame = _as_strings(frame.astype({"pclass": str}), categorical)
    return _split(frame.astype({c: "float64" for c in ["age", "sibsp", "parch", "fare"]}), y)


# ------------------------------------------------------------------------------- regression
def _regression_split(X, y):
    X_train, y_train, X_test, y_test = _split(X, y.astype("float64"), stratify=False)
    return X_train, y_train, X_test, y_test


def movielens_rating(data=DATA):
    """MovieLens-100k, regression: the rating 1-5 as a float; the fields of ``movielens``."""
    X, rating = _movielens_frame(data)
    return _regression_split(X, rating)


def adult_hours(data=DATA):
    """UCI Adult, regression: ``hours_per_week`` (1-99) from the other 13 columns; official
    train/test files; the income label is not a feature."""
    X, _, X_test, _ = _adult_frames()
    y, y_test = X.pop("hours_per_week"), X_test.pop("hours_per_week")
    return X, y.to_numpy(dtype="float64"), X_test, y_test.to_numpy(dtype="float64")


def german_credit_amount(data=DATA):
    """German credit, regression: ``credit_amount`` (DM, 250-18,424, right-skewed) from the
    other 19 attributes; the good/bad ``class`` is not a feature."""
    X = _german_frame(data).drop(columns="class")
    y = X.pop("credit_amount")
    return _regression_split(X, y)


def german_credit_duration(data=DATA):
    """German credit, count target (for ``loss="poisson"``): ``duration`` in months (4-72)
    from the other 19 attributes; the good/bad ``class`` is not a feature."""
    X = _german_frame(data).drop(columns="class")
    y = X.pop("duration")
    return _regression_split(X, y)


BINARY = {"criteo": criteo, "avazu": avazu, "movielens": movielens, "adult": adult,
          "german_credit": german_credit, "titanic": titanic}
MULTICLASS = {"movielens_ratings": movielens_ratings}
REGRESSION = {"movielens_rating": movielens_rating, "adult_hours": adult_hours,
              "german_credit_amount": german_credit_amount}
COUNT = {"german_credit_duration": german_credit_duration}  # regression, also with Poisson
