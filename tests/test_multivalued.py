"""Multi-valued fields: a column of lists (or weighted mappings, or delimited strings) is one
field whose vector pools its levels' embeddings."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skautoint import AutoIntClassifier, AutoIntRegressor, FieldTransformer
from skautoint._fields import EMPTY_CODE, MISSING_CODE, UNKNOWN_CODE, encode_fields
from skautoint.exceptions import TruncatedCellsWarning

#: The rows of docs/bad_input.rst's multi-valued table that are not BAD_INPUT's cases: their
#: tests.
DOCUMENTED = {
    "lists-at-predict-for-a-scalar-column":
        "test_lists_at_predict_for_a_column_of_scalars_at_fit_are_refused",
    "scalars-at-predict-for-a-list-column":
        "test_scalars_at_predict_for_a_column_of_lists_at_fit_are_refused",
    "multi-valued-features-not-in-X": "test_multi_valued_features_is_checked_against_X",
    "longer-lists-at-predict": "test_cells_longer_than_the_slots_keep_their_most_frequent_levels",
    "multi-valued-pooling-changed-warm": "test_a_warm_start_refuses_a_changed_pooling",
}
QUICK = dict(max_epochs=3, embedding_dim=8, attention_dim=8, random_state=0)
RNG = np.random.default_rng(0)
LEVELS = list("abcdefghij")


def _tags(n, rng=RNG, longest=5):
    return [list(rng.choice(LEVELS, size=rng.integers(0, longest + 1), replace=False))
            for _ in range(n)]


def _xor_table(n, seed=0):
    """The target is 'a' in the bag XOR 'b' in the bag: only the levels together tell it."""
    rng = np.random.default_rng(seed)
    tags = _tags(n, rng)
    y = np.array([int(("a" in t) != ("b" in t)) for t in tags])
    return pd.DataFrame({"tags": tags, "noise": rng.normal(size=n)}), y


def _block(X, column="tags", **params):
    """The codes and weights of ``column``'s block, as arrays."""
    encoded = FieldTransformer(min_frequency=1, **params).fit(X).transform(X)
    codes = encoded[[c for c in encoded.columns if c.startswith(f"{column}[")]]
    weights = encoded[[c for c in encoded.columns if c.startswith(f"{column}:weight[")]]
    return (codes.apply(lambda c: c.cat.codes).to_numpy(), weights.to_numpy())


# --------------------------------------------------------------------------- the encoding
def test_missing_empty_unseen_and_duplicate_levels_have_their_meaning():
    fit_rows = pd.DataFrame({"tags": [["a", "b"], ["a"], ["b", "c"]]})
    encoder = FieldTransformer(min_frequency=1).fit(fit_rows)
    rows = pd.DataFrame({"tags": [None, [], ["zz"], ["a", "a", "b"], np.nan, ("c",),
                                  np.array(["a"]), ["a", None]]})
    encoded = encoder.transform(rows)
    codes = encoded[["tags[0]", "tags[1]"]].apply(lambda c: c.cat.codes).to_numpy()
    weights = encoded[["tags:weight[0]", "tags:weight[1]"]].to_numpy()
    a, c = 4, 6  # frequent levels start after the four reserved codes
    assert codes[0, 0] == MISSING_CODE and codes[4, 0] == MISSING_CODE
    assert codes[1, 0] == EMPTY_CODE
    assert codes[2, 0] == UNKNOWN_CODE
    assert codes[5, 0] == c and codes[6, 0] == a
    # a missing value inside a cell is the missing level, beside the others
    assert sorted(codes[7]) == [MISSING_CODE, a]
    np.testing.assert_allclose(weights[7], [0.5, 0.5])
    # one slot with weight 1 for a lone code; unused slots: no code, weight 0
    np.testing.assert_array_equal(weights[:3], [[1, 0], [1, 0], [1, 0]])
    assert (codes[:3, 1] == -1).all()
    # duplicates count as often as they occur: two slots hold 'a' (the block has 2 slots,
    # so the third level of this cell is cut, with the most frequent kept first)
    assert codes[3].tolist() == [a, a]


def test_duplicates_weigh_twice_in_the_mean():
    X = pd.DataFrame({"tags": [["a", "a", "b"], ["a", "b", "c"]]})
    codes, weights = _block(X)
    a, b = 4, 5
    assert weights[0][codes[0] == a].sum() == pytest.approx(2 / 3)
    assert weights[0][codes[0] == b].sum() == pytest.approx(1 / 3)


@pytest.mark.parametrize(("pooling", "expected"), [
    ("mean", [0.25, 0.75]), ("sum", [1.0, 3.0]), ("sqrtn", [1 / np.sqrt(10), 3 / np.sqrt(10)]),
])
def test_weighted_cells_and_every_pooling(pooling, expected):
    X = pd.DataFrame({"tags": [{"a": 1.0, "b": 3.0, "c": 0.0}, {"a": 2.0}, ["b", "c"]]})
    codes, weights = _block(X, multi_valued_pooling=pooling)
    assert codes[0].tolist() == [4, 5]  # 'c' of weight 0 is left out of the cell
    np.testing.assert_allclose(weights[0], expected, rtol=1e-6)


def test_delimited_strings_are_split_on_the_declared_separator():
    X = pd.DataFrame({"genres": ["Action|Comedy", "Comedy", "", None, "Drama|Action"]})
    encoded = FieldTransformer(min_frequency=1,
                               multi_valued_features={"genres": "|"}).fit_transform(X)
    assert list(encoded.columns) == ["genres[0]", "genres[1]", "genres:weight[0]",
                                     "genres:weight[1]"]
    lists = X.assign(genres=[["Action", "Comedy"], ["Comedy"], [], None, ["Drama", "Action"]])
    pd.testing.assert_frame_equal(encoded, FieldTransformer(min_frequency=1).fit_transform(lists))


def test_the_vocabulary_shares_min_frequency_and_max_categories_with_categoricals():
    X = pd.DataFrame({"tags": [["a", "b"], ["a", "c"], ["a", "b"], ["d"]]})
    transformer = FieldTransformer(min_frequency=2).fit(X)
    encoder = transformer.column_transformer_.named_transformers_["multi_valued"]
    assert encoder.categories_[0].tolist() == ["a", "b"]
    assert encoder.infrequent_categories_[0].tolist() == ["c", "d"]
    capped = FieldTransformer(min_frequency=1, max_categories=1)
    with pytest.warns(UserWarning, match="max_categories=1"):
        capped.fit(X)
    assert capped.column_transformer_.named_transformers_["multi_valued"].categories_[0] \
        .tolist() == ["a"]


def test_cells_longer_than_the_slots_keep_their_most_frequent_levels():
    X = pd.DataFrame({"tags": [["a", "b"], ["a"], ["a", "c"], ["c", "a", "b"], ["d", "c"]]})
    with pytest.warns(TruncatedCellsWarning, match="1 of 5 cells hold more than 2 levels"):
        transformer = FieldTransformer(min_frequency=1, max_levels_per_cell=2).fit(X)
    longer = pd.DataFrame({"tags": [["d", "b", "zz", "c", "a"]]})  # longer than any in fit
    codes = transformer.transform(longer)[["tags[0]", "tags[1]"]].apply(
        lambda c: c.cat.codes).to_numpy()[0]
    assert codes.tolist() == [4, 6]  # 'a' (seen 4 times) and 'c' (3)


def test_a_long_tail_of_lengths_does_not_pad_every_row_to_the_longest():
    rng = np.random.default_rng(1)
    lengths = np.minimum(rng.geometric(0.1, size=5000), 400)  # mean 10, longest ~80
    tags = [list(rng.integers(0, 500, size=n).astype(str)) for n in lengths]
    X = pd.DataFrame({"tags": tags})
    with pytest.warns(TruncatedCellsWarning):
        spec, index, value = encode_fields(FieldTransformer(), X, fit=True)
    assert spec.n_slots == int(np.ceil(np.quantile(lengths, 0.99)))
    assert spec.n_slots < lengths.max() / 1.5
    assert index.itemsize + value.itemsize == 8  # bytes per slot and row


def test_short_lists_keep_every_level():
    X = pd.DataFrame({"tags": _tags(500)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedCellsWarning)
        spec, _, _ = encode_fields(FieldTransformer(), X, fit=True)
    assert spec.slots == (5,)


def test_the_transformer_is_a_pipeline_step_with_names_and_is_idempotent():
    X = pd.DataFrame({"tags": _tags(50), "city": RNG.choice(["x", "y"], 50),
                      "n": RNG.normal(size=50)})
    transformer = FieldTransformer(min_frequency=1).set_output(transform="pandas")
    encoded = transformer.fit_transform(X)
    names = transformer.get_feature_names_out()
    assert list(names) == list(encoded.columns)
    assert names[:10].tolist() == [f"tags[{i}]" for i in range(5)] + \
        [f"tags:weight[{i}]" for i in range(5)]
    assert names[10:].tolist() == ["city", "n"]
    pd.testing.assert_frame_equal(FieldTransformer().fit_transform(encoded), encoded)
    as_array = FieldTransformer(min_frequency=1).set_output(transform="default").fit(X)
    pd.testing.assert_frame_equal(as_array.transform(X), encoded)


# --------------------------------------------------------------------------- the network
def test_the_field_vector_is_the_weighted_sum_of_its_slots():
    X, y = _xor_table(300)
    model = AutoIntClassifier(**QUICK).fit(X, y)
    spec = model.field_spec_
    assert spec.names == ("tags", "noise") and spec.kinds == ("bag", "coded")
    index, value = model._encode(X.head(20))
    network = model.module_
    table = network.embedding.weight.detach()
    pooled = torch.matmul(network.pooling, table[torch.as_tensor(index, dtype=torch.long)]
                          * torch.as_tensor(value).unsqueeze(-1))
    tags_slots = spec.field_slots[0]
    expected = (table[torch.as_tensor(index[:, :tags_slots], dtype=torch.long)]
                * torch.as_tensor(value[:, :tags_slots]).unsqueeze(-1)).sum(1)
    torch.testing.assert_close(pooled[:, 0], expected)


def test_the_levels_together_carry_the_signal_and_attention_names_the_column():
    X, y = _xor_table(4000)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = AutoIntClassifier(random_state=0, max_epochs=40).fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    assert auc > 0.9  # a constant (or the noise column alone) gets 0.5
    attention = model.attention_weights(X_test.head(50))
    assert attention["field_names"].tolist() == ["tags", "noise"]
    assert attention["mean"].shape[-2:] == (2, 2)


def _movielens_genres(shared_data, n_rows):
    """MovieLens-100k ratings with the user's fields and the film's genres as a list;
    liked = rating >= 4."""
    folder = shared_data / "movielens" / "ml-100k"
    ratings = pd.read_csv(folder / "u.data", sep="\t",
                          names=["user_id", "item_id", "rating", "timestamp"])
    users = pd.read_csv(folder / "u.user", sep="|",
                        names=["user_id", "age", "gender", "occupation", "zip_code"])
    genres = pd.read_csv(folder / "u.genre", sep="|", names=["genre", "id"])["genre"].tolist()
    items = pd.read_csv(folder / "u.item", sep="|", encoding="latin-1",
                        names=["item_id", "title", "date", "video", "url", *genres])
    items["genres"] = [[g for g in genres if row[g]] for _, row in items.iterrows()]
    frame = ratings.sample(n=n_rows, random_state=0).merge(users, on="user_id").merge(
        items[["item_id", "genres"]], on="item_id")
    X = frame[["user_id", "genres", "age", "gender", "occupation"]].astype(
        {"user_id": str, "age": float})
    return X, (frame["rating"] >= 4).to_numpy().astype(int)


def test_movielens_genres_as_one_field_beat_dropping_them(shared_data):
    X, y = _movielens_genres(shared_data, 20000)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    params = dict(random_state=0, max_epochs=10)
    bag = AutoIntClassifier(**params).fit(X_train, y_train)
    dropped = AutoIntClassifier(**params).fit(X_train.drop(columns="genres"), y_train)
    auc_bag = roc_auc_score(y_test, bag.predict_proba(X_test)[:, 1])
    auc_dropped = roc_auc_score(y_test, dropped.predict_proba(
        X_test.drop(columns="genres"))[:, 1])
    assert auc_bag > auc_dropped + 0.005, (auc_bag, auc_dropped)
    assert bag.field_spec_.kinds[1] == "bag"
    assert bag.attention_weights(X_test.head(20))["field_names"].tolist() == list(X.columns)


# --------------------------------------------------------------------------- everything else
@pytest.fixture(scope="module")
def fitted():
    X, y = _xor_table(600)
    return AutoIntClassifier(**QUICK).fit(X, y), X


def test_pickle_skops_and_onnx_reproduce_the_predictions(fitted,
                                                        assert_saved_forms_predict_alike):
    model, X = fitted
    assert_saved_forms_predict_alike(model, X)


@pytest.mark.parametrize("embedding_update", ["dense", "touched"])
def test_partial_fit_and_both_embedding_updates_train_a_bag(embedding_update):
    X, y = _xor_table(3000)
    model = AutoIntClassifier(**{**QUICK, "embedding_update": embedding_update})
    for chunk in np.array_split(np.arange(len(X)), 3):
        for _ in range(4):
            model.partial_fit(X.iloc[chunk], y[chunk], classes=[0, 1])
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.75
    # the row of unused slots (weight 0) gets no gradient under either update
    spec = model.field_spec_
    untouched = spec.offsets[0] + spec.sizes[0] - 1  # the row of unused slots
    weight = model.module_.embedding.weight.detach()
    assert torch.linalg.vector_norm(weight[untouched]) < 0.1  # drawn from N(0, 0.01)


def test_the_regressor_and_a_pipeline_take_a_list_column():
    X, y = _xor_table(800)
    target = y * 2.0 + X["noise"].to_numpy()
    pipeline = make_pipeline(FieldTransformer(), AutoIntRegressor(**QUICK)).fit(X, target)
    assert np.isfinite(pipeline.predict(X)).all()
    assert pipeline[-1].field_spec_.kinds == ("bag", "coded")


def test_parquet_list_columns_train_out_of_core(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from skautoint.out_of_core import partial_fit_parquet

    X, y = _xor_table(2000)
    table = pyarrow.table({"tags": X["tags"].tolist(), "noise": X["noise"], "y": y})
    assert pyarrow.types.is_list(table.schema.field("tags").type)
    pq.write_table(table, tmp_path / "part.parquet", row_group_size=500)
    model = AutoIntClassifier(**QUICK)
    partial_fit_parquet(model, tmp_path, target="y", classes=[0, 1], epochs=4,
                        chunk_rows=500, random_state=0)
    assert model.field_spec_.kinds == ("bag", "coded")
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.7


def test_polars_and_arrow_list_columns_encode_as_pandas_lists():
    X, _ = _xor_table(300)
    expected = encode_fields(FieldTransformer(), X, fit=True)[1]
    pl = pytest.importorskip("polars")
    from_polars = encode_fields(FieldTransformer(), pl.from_pandas(X), fit=True)[1]
    np.testing.assert_array_equal(from_polars, expected)
    arrow = X.astype({"tags": pd.ArrowDtype(__import__("pyarrow").list_(
        __import__("pyarrow").string()))})
    np.testing.assert_array_equal(encode_fields(FieldTransformer(), arrow, fit=True)[1],
                                  expected)


# --------------------------------------------------------------------------- bad input
BAD_INPUT = [
    pytest.param(pd.DataFrame({"tags": [["a", 1], ["b"]] * 10}), TypeError,
                 "Column 'tags' is multi-valued, and its cells mix levels of types",
                 id="multi-valued-mixed-level-types"),
    pytest.param(pd.DataFrame({"tags": [[["a"]], ["b"]] * 10}), TypeError,
                 "Column 'tags' is multi-valued, but row 0 holds the level",
                 id="multi-valued-nested-lists"),
    pytest.param(pd.DataFrame({"tags": [["a"], "b"] * 10}), TypeError,
                 r"Column 'tags' is multi-valued .* row 1 holds the scalar 'b'",
                 id="multi-valued-lists-and-scalars"),
    pytest.param(pd.DataFrame({"tags": [{"a": -1.0}, ["b"]] * 10}), ValueError,
                 "Column 'tags', row 0: a weighted cell .* finite numbers of at least 0",
                 id="multi-valued-bad-weight"),
]


@pytest.mark.parametrize(("X", "error", "match"), BAD_INPUT)
def test_bad_multi_valued_columns_are_refused_by_name(X, error, match):
    with pytest.raises(error, match=match):
        AutoIntClassifier(**QUICK).fit(X, [0, 1] * 10)


def test_lists_at_predict_for_a_column_of_scalars_at_fit_are_refused():
    X = pd.DataFrame({"tags": ["a", "b"] * 10})
    model = AutoIntClassifier(**QUICK).fit(X, [0, 1] * 10)
    with pytest.raises(TypeError,
                       match=r"Column 'tags' held scalar levels in fit but holds a list"):
        model.predict(pd.DataFrame({"tags": [["a"], ["b"]]}))


def test_scalars_at_predict_for_a_column_of_lists_at_fit_are_refused():
    X = pd.DataFrame({"tags": [["a"], ["b"]] * 10})
    model = AutoIntClassifier(**QUICK).fit(X, [0, 1] * 10)
    with pytest.raises(TypeError, match=r"Column 'tags' is multi-valued \(its cells are bags "
                                        r"of levels as in fit\), but row 0 holds the scalar"):
        model.predict(pd.DataFrame({"tags": ["a", "b"]}))


@pytest.mark.parametrize(("features", "match"), [
    ({"nope": "|"}, "`multi_valued_features` names column 'nope', which is not in X"),
    ({"tags": ""}, r"`multi_valued_features\['tags'\]` must be the separator"),
])
def test_multi_valued_features_is_checked_against_X(features, match):
    X = pd.DataFrame({"tags": ["a|b", "b"] * 10})
    with pytest.raises(ValueError, match=match):
        AutoIntClassifier(**QUICK, multi_valued_features=features).fit(X, [0, 1] * 10)


def test_a_warm_start_refuses_a_changed_pooling():
    X, y = _xor_table(200)
    model = AutoIntClassifier(**QUICK, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="multi_valued_pooling='sum'"):
        model.set_params(multi_valued_pooling="sum").fit(X, y)


def test_every_documented_case_has_its_test():
    missing = [name for name in DOCUMENTED.values() if not callable(globals().get(name))]
    assert missing == []


@pytest.mark.parametrize("embedding_update", ["dense", "touched"])
def test_distributed_fit_with_a_list_column_equals_the_fit_alone(embedding_update):
    import socket

    from torch import distributed as dist

    X, y = _xor_table(1500)
    params = {**QUICK, "embedding_update": embedding_update}
    alone = AutoIntClassifier(**params).fit(X, y)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0,
                            world_size=1)
    try:
        grouped = AutoIntClassifier(**params, distributed=True).fit(X, y)
    finally:
        dist.destroy_process_group()
    np.testing.assert_array_equal(grouped.predict_proba(X), alone.predict_proba(X))
