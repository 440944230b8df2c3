"""Target statistics: cross-fitted target means of identifier-like columns as fields."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier, AutoIntRegressor, FieldTransformer
from skautoint._fields import TargetStatisticEncoder


def _identifier_table(n_rows=4000, n_levels=400, seed=0):
    """A long-tailed identifier whose levels each have a target rate, and a short column."""
    rng = np.random.default_rng(seed)
    level = rng.integers(n_levels, size=n_rows)
    rate = rng.uniform(0.1, 0.9, size=n_levels)
    X = pd.DataFrame({"shop": pd.array([f"shop{i}" for i in level], dtype="string"),
                      "colour": pd.array(rng.choice(["red", "blue"], n_rows), dtype="string")})
    return X, (rng.uniform(size=n_rows) < rate[level]).astype(int)


def test_training_rows_get_statistics_of_the_other_folds_only():
    # Every level holds 2 rows of a random target: a row's in-sample mean holds half its
    # own label, the cross-fitted one none of it.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"id": np.repeat([f"p{i}" for i in range(1000)], 2)})
    y = rng.integers(2, size=len(X))
    encoder = TargetStatisticEncoder(["id"], continuous="embed")
    crossed = encoder.fit_transform(X, y).ravel()
    in_sample = encoder.transform(X).ravel()
    assert abs(roc_auc_score(y, crossed) - 0.5) < 0.06
    assert roc_auc_score(y, in_sample) > 0.75


def test_auto_takes_long_tailed_columns_only_and_needs_a_target():
    rng = np.random.default_rng(0)
    n_rows = 6000
    X = pd.DataFrame({
        "shop": [f"s{i}" for i in rng.integers(500, size=n_rows)],     # 12 rows a level
        "city": [f"c{i}" for i in rng.integers(150, size=n_rows)],     # 40 rows a level
        "colour": rng.choice(["red", "blue"], n_rows),
    })
    y = rng.integers(2, size=n_rows)
    encoder = TargetStatisticEncoder().set_output(transform="pandas")
    assert encoder.fit_transform(X, y).columns.tolist() == ["shop:target"]
    assert encoder.columns_.tolist() == [0]
    assert encoder.fit_transform(X).shape == (n_rows, 0)  # no target: no statistic
    with pytest.raises(ValueError, match="needs the target"):
        TargetStatisticEncoder(["shop"]).fit(X)
    with pytest.raises(ValueError, match="'price', which is not a categorical column"):
        TargetStatisticEncoder(["price"]).fit(X, y)
    numbers = X.assign(price=rng.normal(size=n_rows))
    with pytest.raises(ValueError, match="'price', which is a bucketize column"):
        AutoIntClassifier(target_statistics=["price"]).fit(numbers[["price"]], y)
    with pytest.raises(ValueError, match="'prize', which is not a column of X"):
        FieldTransformer(target_statistics=["prize"]).fit(numbers, y)


def test_one_statistic_per_class_of_a_multiclass_target_and_one_for_numbers():
    X, y = _identifier_table()
    transformer = FieldTransformer(target_statistics=["shop"]).set_output(transform="pandas")
    classes = transformer.fit_transform(X, y + (X["colour"] == "red").to_numpy()).columns
    assert classes.tolist() == ["shop", "shop:target=0", "shop:target=1", "shop:target=2",
                                "colour"]
    labels = transformer.fit_transform(X, np.where(y == 1, "yes", "no")).columns
    assert labels.tolist() == ["shop", "shop:target", "colour"]
    numbers = transformer.fit_transform(X, y * 2.5).columns
    assert numbers.tolist() == ["shop", "shop:target", "colour"]
    assert FieldTransformer().fit_transform(X, y).columns.tolist() == ["shop", "colour"]


def test_rows_keep_their_index_and_order():
    X, y = _identifier_table()
    transformer = FieldTransformer(target_statistics=["shop"], continuous="embed")
    transformer.set_output(transform="pandas").fit(X, y)
    shuffled = X.sample(frac=0.5, random_state=0)
    fields = transformer.transform(shuffled)
    assert fields.index.equals(shuffled.index)
    expected = transformer.transform(shuffled.reset_index(drop=True))
    np.testing.assert_array_equal(fields.to_numpy(), expected.to_numpy())


def test_an_array_names_its_columns_by_position_in_the_table():
    X, y = _identifier_table()
    array = np.column_stack([np.arange(len(X)) % 7, X["colour"], X["shop"]]).astype(object)
    array[:, 0] = array[:, 0].astype(float)
    model = AutoIntClassifier(target_statistics=["x2"], categorical_features=[1, 2],
                              max_epochs=1, random_state=0).fit(array, y)
    assert model.field_spec_.names == ("x0", "x1", "x2", "x2:target")
    auto = AutoIntClassifier(target_statistics="auto", categorical_features=[1, 2],
                             max_epochs=1, random_state=0).fit(array, y)
    assert auto.field_spec_.names == model.field_spec_.names
    np.testing.assert_array_equal(auto.predict_proba(array[:5]), model.predict_proba(array[:5]))


def test_unseen_and_missing_levels_take_the_global_mean():
    X, y = _identifier_table()
    encoder = TargetStatisticEncoder(["shop"], continuous="embed").fit(X, y)
    new = pd.DataFrame({"shop": pd.array(["never seen", None, "shop1"], dtype="string"),
                        "colour": pd.array(["red"] * 3, dtype="string")})
    statistics = encoder.target_encoder_.transform(
        encoder.level_encoder_.transform(new[["shop"]])).ravel()
    assert statistics[0] == statistics[1] == pytest.approx(encoder.target_encoder_.target_mean_)
    assert statistics[2] != pytest.approx(encoder.target_encoder_.target_mean_)
    assert np.isfinite(encoder.transform(new)).all()


def test_titanic_tickets_cabins_and_homes_carry_their_survival_rate(titanic):
    # Relatives share a ticket, a cabin or a home: levels of a few rows whose survival
    # is shared, which an embedding of their own cannot learn from so few rows.
    X_train, y_train, X_test, y_test = titanic
    scores = {None: [], "auto": []}
    for seed in range(3):
        for statistics, seed_scores in scores.items():
            model = AutoIntClassifier(target_statistics=statistics, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_train, y_train)
            seed_scores.append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    assert [name for name in model.field_spec_.names if name.endswith(":target")] == [
        "ticket:target", "cabin:target", "home_dest:target"]
    assert np.mean(scores["auto"]) > np.mean(scores[None]) + 0.008, scores


def test_estimators_with_statistics_save_predict_and_train_on_chunks(
        adult_small, assert_saved_forms_predict_alike):
    X, y, X_test, _ = adult_small
    X = X.assign(id=pd.array([f"i{i % 300}" for i in range(len(X))], dtype="string"))
    X_test = X_test.assign(id=pd.array([f"i{i % 300}" for i in range(len(X_test))],
                                       dtype="string"))
    model = AutoIntClassifier(target_statistics=["id"], max_epochs=2, random_state=0)
    model.fit(X, y)
    assert "id:target" in model.field_spec_.names
    assert_saved_forms_predict_alike(model, X_test)
    regressor = AutoIntRegressor(target_statistics=["id"], max_epochs=2, random_state=0)
    regressor.fit(X.drop(columns="hours_per_week"), X["hours_per_week"].to_numpy(float))
    assert np.isfinite(regressor.predict(X_test.drop(columns="hours_per_week"))).all()



def test_only_fit_cross_fits_so_reencoding_training_rows_is_refused():
    # Random labels of 2-row levels: statistics re-learned on the training rows would leak.
    X, y = _identifier_table(n_levels=1500)
    with pytest.raises(ValueError, match="partial_fit cannot train with target statistics"):
        AutoIntClassifier(target_statistics="auto").partial_fit(X, y, classes=[0, 1])
    model = AutoIntClassifier(target_statistics=["shop"], max_epochs=1, random_state=0)
    model.fit(X, y)
    before = model.predict_proba(X.head())
    with pytest.raises(ValueError, match="partial_fit cannot train with target statistics"):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match="A warm start cannot train with target statistics"):
        model.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X.head()), before)
    fitted = FieldTransformer(target_statistics=["shop"]).set_output(transform="pandas")
    with pytest.raises(ValueError, match="a fitted field_transformer cannot train"):
        AutoIntClassifier(field_transformer=fitted.fit(X, y)).fit(X, y)
    with pytest.raises(ValueError, match=r"names columns by their names \(str\); got \['shop'\]"):
        FieldTransformer(target_statistics=[["shop"]]).fit(X, y)
    assert FieldTransformer(target_statistics=[]).fit_transform(X).shape == (len(X), 2)
