"""Run every snippet of docs/with_other_tools.rst, MLflow's included, and time each.

    python benchmarks/run_snippets.py

The test suite runs all but MLflow's (its client is too heavy for CI); this script is how the
page's MLflow snippet is checked. A snippet whose client is not installed is reported, not
run.
"""

import importlib.util
import runpy
import sys
import time
from pathlib import Path

SNIPPETS = Path(__file__).resolve().parents[1] / "docs" / "snippets"
CLIENTS = {"mlflow": "mlflow", "optuna": "optuna", "shap": "shap", "calibration": "sklearn",
           "fairlearn": "fairlearn", "imblearn": "imblearn", "polars": "polars"}


def main():
    failed = 0
    for path in sorted(SNIPPETS.glob("with_*.py")):
        name = path.stem.removeprefix("with_")
        if importlib.util.find_spec(CLIENTS[name]) is None:
            print(f"{name:12s} skipped: {CLIENTS[name]} is not installed")
            continue
        start = time.perf_counter()
        try:
            runpy.run_path(str(path), run_name="__main__")
        except Exception as exc:  # report every snippet, then fail
            failed += 1
            print(f"{name:12s} FAILED: {type(exc).__name__}: {exc}")
            continue
        print(f"{name:12s} ran in {time.perf_counter() - start:.1f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
