"""Attention maps, field-pair rankings, the Display objects of skautoint.inspection and the
verbose output of training."""

import io
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skautoint import AutoIntClassifier
from skautoint.inspection import (
    AttentionMapDisplay,
    TrainingCurveDisplay,
    attention_entropy,
    rank_field_pairs,
    rank_interactions,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@pytest.fixture(scope="module")
def fitted(adult_small):
    X, y, X_test, _ = adult_small
    return AutoIntClassifier(max_epochs=3, random_state=0).fit(X, y), X_test.iloc[:300]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_attention_weights_are_row_stochastic_maps_named_by_field(fitted):
    clf, X = fitted
    attention = clf.attention_weights(X)
    n_fields = X.shape[1]
    assert attention.per_row.shape == (len(X), clf.n_layers, clf.n_heads, n_fields, n_fields)
    np.testing.assert_allclose(attention.per_row.sum(axis=-1), 1.0, rtol=1e-5)
    assert attention.field_names.tolist() == X.columns.tolist()
    np.testing.assert_allclose(attention.mean, attention.per_row.mean(axis=0), rtol=1e-5)
    # rows differ: attention depends on the row's own levels
    assert np.ptp(attention.per_row[:, 0, 0], axis=0).max() > 1e-3
    mean_only = clf.attention_weights(X, per_row=False)
    assert "per_row" not in mean_only
    np.testing.assert_allclose(mean_only.mean, attention.mean, rtol=1e-4, atol=1e-7)


def test_attention_weights_need_an_interacting_layer(adult_small):
    X, y, _, _ = adult_small
    clf = AutoIntClassifier(n_layers=0, max_epochs=1, random_state=0).fit(X[:300], y[:300])
    with pytest.raises(ValueError, match="n_layers >= 1"):
        clf.attention_weights(X[:5])


def test_attention_entropy_is_1_for_uniform_maps_and_0_for_one_hot_maps():
    n_fields = 5
    uniform = np.full((4, 1, 1, n_fields, n_fields), 1 / n_fields)
    one_hot = np.broadcast_to(np.eye(n_fields), (4, 1, 1, n_fields, n_fields))
    per_row = np.concatenate([uniform, one_hot], axis=1)  # layer 0 uniform, layer 1 one-hot
    table = attention_entropy({"per_row": per_row, "field_names": list("abcde")})
    assert table[["layer", "head"]].to_numpy().tolist() == [[0, 0], [1, 0]]
    np.testing.assert_allclose(table["relative_entropy"], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(table["top_weight"], [1 / n_fields, 1.0])
    # top_weight is a median over rows and fields: 3 rows of 0.9 outweigh one of 0.2
    skewed = np.full((4, 1, 1, 2, 2), 0.5)
    skewed[:3, ..., 0], skewed[:3, ..., 1] = 0.9, 0.1
    skewed[3, ..., 0], skewed[3, ..., 1] = 0.2, 0.8
    table = attention_entropy({"per_row": skewed, "field_names": ["a", "b"]})
    np.testing.assert_allclose(table["top_weight"], [0.9])


def test_attention_entropy_of_a_fitted_model_per_layer_and_head(fitted):
    clf, X = fitted
    attention = clf.attention_weights(X)
    table = attention_entropy(attention)
    assert len(table) == clf.n_layers * clf.n_heads
    assert table["relative_entropy"].between(0, 1).all()
    weights = attention.per_row[:, 1, 0]  # layer 1, head 0, by hand
    expected = (-(weights * np.log(weights)).sum(-1) / np.log(X.shape[1])).mean()
    row = table[(table["layer"] == 1) & (table["head"] == 0)]
    np.testing.assert_allclose(row["relative_entropy"], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="per_row=True"):
        attention_entropy(clf.attention_weights(X, per_row=False))


def test_planted_pairwise_interaction_is_the_top_ranked_pair():
    # Eight fields of 6 levels; the label depends only on the pair (c, f) through a random
    # 6x6 table of logits, which no single field explains.
    rng = np.random.default_rng(0)
    n = 3000
    codes = {name: rng.integers(0, 6, n) for name in "abcdefgh"}
    X = pd.DataFrame({name: pd.Categorical(c) for name, c in codes.items()})
    logit = rng.normal(0, 2, (6, 6))[codes["c"], codes["f"]]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    clf = AutoIntClassifier(random_state=0).fit(X, y)
    pairs = rank_field_pairs(clf.attention_weights(X[:1000], per_row=False))
    assert {pairs.field_a[0], pairs.field_b[0]} == {"c", "f"}
    assert pairs.strength[0] - pairs.strength[1] > 0.02
    assert len(pairs) == 8 * 7 // 2 and pairs.strength.is_monotonic_decreasing


def test_field_pair_bias_lets_the_first_layer_attend_on_real_data(adult_small):
    # Without the bias the first layer's scores are products of two small embeddings and its
    # attention stays uniform; with it, the first layer learns which fields to read.
    X, y, X_test, y_test = adult_small
    entropy, auc = {}, {}
    for where in ("first_layer", "none"):
        clf = AutoIntClassifier(field_pair_bias=where, random_state=0).fit(X, y)
        table = attention_entropy(clf.attention_weights(X_test))
        entropy[where] = table.groupby("layer")["relative_entropy"].mean()
        auc[where] = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    assert entropy["none"][0] > 0.995
    assert entropy["first_layer"][0] < 0.97
    assert auc["first_layer"] > auc["none"] - 0.005


class _Formula:
    """A known model: ``predict`` is a formula of named columns."""

    def __init__(self, formula):
        self.formula = formula

    def predict(self, X):
        return self.formula(X)


def test_rank_interactions_finds_the_pair_of_a_known_formula_and_nothing_in_a_sum():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice(["x", "y", "z"], 300), "b": rng.normal(size=300),
                      "c": rng.normal(size=300), "d": rng.choice(["p", "q"], 300)})
    pairs = rank_interactions(_Formula(lambda X: X["a"].map({"x": 1.0, "y": -1.0, "z": 0.5})
                                       .to_numpy() * X["b"].to_numpy() + X["c"].to_numpy()),
                              X, n_rows=60, random_state=0)
    assert pairs.columns.tolist() == ["field_a", "field_b", "strength", "h_squared"]
    assert {pairs.field_a[0], pairs.field_b[0]} == {"a", "b"} and len(pairs) == 6
    assert pairs.strength[0] > 0.3 and (pairs.strength[1:] < 1e-9).all()
    assert 0.8 < pairs.h_squared[0] <= 1.0  # mostly interaction (the signs' mean is not 0)
    additive = rank_interactions(_Formula(lambda X: X["b"].to_numpy() ** 2
                                          + (X["d"] == "p").to_numpy() * 3.0),
                                 X, n_rows=60, random_state=0)
    assert (additive.strength < 1e-9).all()


def test_rank_interactions_ranks_a_pair_planted_in_real_adult_columns_first(adult):
    # Half the labels rewritten as "the signs of occupation and relationship agree" (half
    # of each column's levels +1, the others -1): a pure interaction of two real columns.
    X, y, _, _ = adult
    X, y = X.iloc[:6000].reset_index(drop=True), (y.iloc[:6000] == ">50K").to_numpy()
    rng = np.random.default_rng(1)
    agree = np.ones(len(X))
    for column in ["occupation", "relationship"]:
        levels = X[column].dropna().unique()
        signs = dict(zip(levels, rng.permutation(np.resize([1.0, -1.0], len(levels))),
                         strict=True))
        agree *= X[column].map(signs).fillna(1.0).to_numpy(dtype=float)
    y = np.where(rng.random(len(X)) < 0.5, agree > 0, y).astype(int)
    clf = AutoIntClassifier(random_state=0).fit(X[:5000], y[:5000])
    pairs = rank_interactions(clf, X[5000:], n_rows=40, random_state=0)
    assert {pairs.field_a[0], pairs.field_b[0]} == {"occupation", "relationship"}
    assert pairs.strength[0] > 2 * pairs.strength[1]
    assert len(pairs) == 14 * 13 // 2


def test_rank_interactions_reads_list_cells_and_each_output_scale(fitted):
    clf, X = fitted
    columns = ["age", "sex", "education"]
    by_proba = rank_interactions(clf, X, columns=columns, n_rows=20, random_state=0)
    by_logit = rank_interactions(clf, X, columns=columns, n_rows=20, random_state=0,
                                 response_method="decision_function")
    assert set(map(frozenset, by_proba[["field_a", "field_b"]].to_numpy())) == set(
        map(frozenset, by_logit[["field_a", "field_b"]].to_numpy()))
    assert not np.allclose(by_proba.strength.sort_values(), by_logit.strength.sort_values())
    # list cells: the tags' count times n interacts, the tags with z do not
    rng = np.random.default_rng(0)
    bags = pd.DataFrame({"tags": [["a"], ["a", "b"], [], ["b", "b", "c"]] * 10,
                         "n": rng.normal(size=40), "z": rng.normal(size=40)})
    pairs = rank_interactions(
        _Formula(lambda X: X["tags"].map(len).to_numpy() * X["n"].to_numpy() + X["z"]),
        bags, n_rows=40)
    assert {pairs.field_a[0], pairs.field_b[0]} == {"tags", "n"}
    assert pairs.strength[0] > 0.5 and (pairs.strength[1:] < 1e-9).all()


def test_rank_interactions_does_not_depend_on_the_batch_size(fitted):
    clf, X = fitted
    X = X.assign(age=X["age"].where(X.index % 7 != 0))  # missing values are one level
    columns = ["age", "education", "sex", "native_country"]
    whole = rank_interactions(clf, X, columns=columns, n_rows=25, random_state=0)
    for batch_rows in (1, 7, 60):
        pd.testing.assert_frame_equal(
            rank_interactions(clf, X, columns=columns, n_rows=25, random_state=0,
                              batch_rows=batch_rows), whole, rtol=1e-6)


def test_rank_interactions_refuses_bad_arguments_by_name(fitted):
    clf, X = fitted
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not columns of X"):
        rank_interactions(clf, X, columns=["age", "nope"])
    with pytest.raises(ValueError, match=r"columns names \['age'\] more than once"):
        rank_interactions(clf, X, columns=["age", "age", "sex"])
    with pytest.raises(TypeError, match="columns must be a list of column names"):
        rank_interactions(clf, X, columns="age")
    with pytest.raises(ValueError, match="at least 2 columns"):
        rank_interactions(clf, X, columns=["age"])
    with pytest.raises(ValueError, match="X must have at least 2 rows"):
        rank_interactions(clf, X.iloc[:1])
    with pytest.raises(ValueError, match=r"none of the methods .* predict_proba"):
        rank_interactions(object(), X)
    with pytest.raises(ValueError, match="n_rows must be an integer of at least 2"):
        rank_interactions(clf, X, n_rows=1)
    with pytest.raises(ValueError, match="response_method must be one of"):
        rank_interactions(clf, X, response_method="predict_log_proba")
    with pytest.raises(TypeError, match="needs X as a DataFrame"):
        rank_interactions(clf, X.to_numpy())


def test_rank_field_pairs_rejects_a_layer_or_head_out_of_range(fitted):
    clf, X = fitted
    attention = clf.attention_weights(X, per_row=False)
    last = clf.n_layers - 1
    with pytest.raises(ValueError,
                       match=f"`layer` must be None or in \\[0, {last}\\]; got {last + 1}"):
        rank_field_pairs(attention, layer=last + 1)
    with pytest.raises(ValueError, match="`head` must be None or in \\[0, 1\\]; got -1"):
        rank_field_pairs(attention, head=-1)


def test_attention_map_display_draws_a_labelled_heatmap(fitted):
    clf, X = fitted
    display = AttentionMapDisplay.from_estimator(clf, X, layer=1, head=0)
    expected = clf.attention_weights(X, per_row=False).mean[1, 0]
    np.testing.assert_allclose(display.image_.get_array(), expected, rtol=1e-5)
    labels = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert labels == X.columns.tolist()
    assert display.figure_ is display.ax_.figure
    assert "layer 1, head 0, mean of rows" in display.ax_.get_title()
    pd.testing.assert_frame_equal(
        display.pairs_, rank_field_pairs(clf.attention_weights(X, per_row=False), layer=1, head=0)
    )
    display.figure_.savefig(io.BytesIO(), format="png")


def test_attention_map_display_scale_is_centred_on_uniform_attention(fitted):
    clf, X = fitted
    n_fields = X.shape[1]
    display = AttentionMapDisplay.from_estimator(clf, X)
    norm = display.image_.norm
    assert norm.vcenter == pytest.approx(1 / n_fields) and norm.vmin == 0.0
    assert norm.vmax >= 2 / n_fields
    assert display.image_.get_cmap().name == "RdBu_r"
    assert "uniform, 1/14" in display.figure_.axes[-1].get_ylabel()
    ranged = AttentionMapDisplay.from_estimator(clf, X, scale="range", cmap="magma")
    low, high = ranged.image_.get_clim()
    assert low == pytest.approx(ranged.attention_map.min())
    assert high == pytest.approx(ranged.attention_map.max())
    assert ranged.image_.get_cmap().name == "magma"
    with pytest.raises(ValueError, match="scale must be 'uniform' or 'range'"):
        display.plot(scale="log")


def test_attention_map_display_of_one_row_in_a_pipeline(fitted):
    clf, X = fitted
    pipeline = make_pipeline(FunctionTransformer(lambda frame: frame.copy()), clf)
    _, ax = plt.subplots()
    display = AttentionMapDisplay.from_estimator(pipeline, X, row=7, ax=ax, colorbar=False)
    assert display.ax_ is ax and "row 7" in ax.get_title()
    expected = clf.attention_weights(X.iloc[[7]]).per_row[0].mean(axis=(0, 1))
    np.testing.assert_allclose(display.attention_map, expected, rtol=1e-5)


def test_history_is_data_and_the_training_curve_marks_the_best_epoch(fitted):
    clf, _ = fitted
    history = pd.DataFrame(clf.history_)
    assert len(history) == clf.n_iter_
    assert {"epoch", "train_loss", "valid_loss", "valid_score", "seconds", "best"} <= set(history)
    display = TrainingCurveDisplay.from_estimator(clf)
    np.testing.assert_allclose(display.lines_["valid_loss"].get_ydata(), history.valid_loss)
    np.testing.assert_allclose(display.lines_["train_loss"].get_xdata(), history.epoch)
    best_line = [line for line in display.ax_.lines if line.get_linestyle() == "--"]
    assert best_line[0].get_xdata()[0] == clf.best_iteration_


def test_displays_reject_other_estimators(fitted):
    _, X = fitted
    with pytest.raises(TypeError, match="fitted AutoIntClassifier"):
        TrainingCurveDisplay.from_estimator(FunctionTransformer().fit(X))


def test_importing_skautoint_does_not_import_matplotlib():
    code = ("import sys, skautoint, skautoint.inspection; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"



def test_verbose_levels_print_nothing_a_table_or_a_table_and_progress_bars(adult_small, capfd):
    X, y, _, _ = adult_small
    AutoIntClassifier(max_epochs=2, random_state=0).fit(X[:500], y[:500])
    assert capfd.readouterr() == ("", "")

    clf = AutoIntClassifier(max_epochs=3, random_state=0, verbose=1).fit(X[:500], y[:500])
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "valid_accuracy", "seconds"]
    assert len(lines) == 1 + clf.n_iter_ and err == ""
    for line, record in zip(lines[1:], clf.history_, strict=True):
        assert int(line.split()[0]) == record["epoch"]
        assert line.endswith("*") == record["best"]

    AutoIntClassifier(max_epochs=2, random_state=0, verbose=2).fit(X[:500], y[:500])
    out, err = capfd.readouterr()
    assert len(out.splitlines()) == 3 and "epoch 1" in err and "batch" in err
