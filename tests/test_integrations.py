"""The snippets of docs/with_other_tools.rst run, and show what the page says they show.

Each needs its client (installed with the ``test`` extra); MLflow's is too heavy for CI and
runs where ``mlflow`` is installed (``benchmarks/run_snippets.py`` runs them all).
"""

import runpy
from pathlib import Path

import numpy as np
import pytest

SNIPPETS = Path(__file__).resolve().parents[1] / "docs" / "snippets"


def _run(name, client, capsys):
    pytest.importorskip(client)
    before = set(Path.cwd().iterdir())
    namespace = runpy.run_path(str(SNIPPETS / f"with_{name}.py"), run_name="__main__")
    assert set(Path.cwd().iterdir()) == before  # a snippet leaves no files behind (mlruns/)
    return namespace, capsys.readouterr().out


def test_the_page_shows_every_snippet():
    page = (SNIPPETS.parent / "with_other_tools.rst").read_text()
    for path in SNIPPETS.glob("with_*.py"):
        assert f"snippets/{path.name}" in page


def test_optuna_finds_a_model_better_than_chance(capsys):
    namespace, _ = _run("optuna", "optuna", capsys)
    assert len(namespace["study"].trials) == 3
    assert namespace["study"].best_value > 0.85


def test_shap_ranks_the_strongest_columns_of_adult_first(capsys):
    namespace, _ = _run("shap", "shap", capsys)
    importance = namespace["importance"]
    assert importance.notna().all() and (importance > 0).sum() >= 8
    # relationship and marital status carry most of Adult's signal (every model agrees)
    assert {"relationship", "marital_status"} & set(importance.nlargest(3).index)
    # additivity: the values add up to the prediction minus the base value
    explanation = namespace["explanation"]
    np.testing.assert_allclose(explanation.values.sum(axis=1) + explanation.base_values,
                               namespace["positive_proba"](explanation.data), atol=1e-5)


def test_calibration_and_threshold_tuning(capsys):
    namespace, _ = _run("calibration", "sklearn", capsys)
    rate = (namespace["y_test"] == ">50K").mean()
    assert namespace["brier"] < 0.9 * rate * (1 - rate)  # better than the base rate
    assert namespace["tuned"].best_threshold_ < 0.5  # few positives: a lower cut-off
    assert namespace["balanced"] > 0.75


def test_fairlearn_post_processing_narrows_the_selection_gap(capsys):
    namespace, _ = _run("fairlearn", "fairlearn", capsys)
    gap = [frame.by_group.max() - frame.by_group.min()
           for frame in (namespace["by_sex"], namespace["after"])]
    assert gap[1] < 0.5 * gap[0]


def test_imblearn_undersampling_raises_the_recall_of_the_rare_class(capsys):
    namespace, _ = _run("imblearn", "imblearn", capsys)
    assert namespace["recall"] > 0.7  # about 0.6 without resampling


def test_polars_frames_train_the_model(capsys):
    namespace, _ = _run("polars", "polars", capsys)
    assert list(namespace["model"].feature_names_in_[:2]) == ["age", "workclass"]
    assert namespace["proba"].shape == (5, 2)


def test_mlflow_logs_and_loads_the_same_model(capsys):
    _, out = _run("mlflow", "mlflow", capsys)
    assert "same predictions: True" in out
