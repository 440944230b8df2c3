"""Scaling out on one machine: a hyperparameter search on a two-worker Dask cluster, and one
network trained by two torchrun processes, against the same work in one process.

Not part of CI. Both parts use UCI Adult (shipped with skautoint) and print a table.

``search``: ``GridSearchCV`` over ``make_pipeline(make_field_transformer(),
AutoIntClassifier(...))``, 4 candidates x 2 folds on ``--rows`` rows, run (a) in this
process with torch's default threads, (b) in this process with one torch thread, (c) on a
``LocalCluster`` of 2 worker processes with 1 thread each (``joblib.parallel_backend("dask")``).
"fits + scoring s" sums the seconds of the 8 fits and their scoring: against the wall-clock
seconds it shows how busy the workers were.

``ddp``: ``examples/train_distributed.py`` (all of Adult's training rows, ``--epochs`` epochs,
early stopping on) in one process with 2 threads, one process with 1 thread, and 2 torchrun
processes with 1 thread each and half the batch, so the effective batch is the same. Rows/s
counts every process's rows over the epochs' seconds (validation included).

Run::

    .venv/bin/python benchmarks/bench_scaling.py              # both parts (~5 min on 2 cores)
    .venv/bin/python benchmarks/bench_scaling.py --parts ddp --epochs 5
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautoint import AutoIntClassifier, make_field_transformer
from skautoint.datasets import load_adult

SCRIPT = Path(__file__).parents[1] / "examples" / "train_distributed.py"
GRID = {"autointclassifier__n_heads": [1, 2], "autointclassifier__embedding_dim": [8, 16]}


def _search(X, y, max_epochs):
    pipeline = make_pipeline(make_field_transformer(),
                             AutoIntClassifier(max_epochs=max_epochs, random_state=0))
    start = time.perf_counter()
    search = GridSearchCV(pipeline, GRID, cv=2, scoring="roc_auc", n_jobs=-1,
                          refit=False).fit(X, y)
    seconds = time.perf_counter() - start
    results = search.cv_results_
    fit_seconds = 2 * (results["mean_fit_time"] + results["mean_score_time"]).sum()
    return {"seconds": seconds, "fits + scoring s": fit_seconds,
            "best CV AUC": results["mean_test_score"].max()}


def bench_search(rows, max_epochs):
    """Seconds of the same search in one process and on a two-worker LocalCluster."""
    import distributed

    X, y = load_adult(return_X_y=True)
    X, y = X.iloc[:rows], y.iloc[:rows]
    results = []
    threads = torch.get_num_threads()
    for label, n_threads in [(f"1 process, {threads} torch threads", threads),
                             ("1 process, 1 torch thread", 1)]:
        torch.set_num_threads(n_threads)
        with joblib.parallel_backend("sequential"):
            results.append({"setting": label, **_search(X, y, max_epochs)})
    torch.set_num_threads(threads)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: torch.ones(1) + 1)  # workers import torch before the clock starts
        with joblib.parallel_backend("dask"):
            results.append({"setting": "Dask LocalCluster, 2 workers x 1 thread",
                            **_search(X, y, max_epochs)})
    for record in results:
        record["speed"] = 1 / record["seconds"]
    _print_table(results, f"GridSearchCV, 4 candidates x 2 folds, {rows:,} Adult rows, "
                          f"max_epochs={max_epochs}")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_script(n_processes, threads, batch_size, epochs, folder):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    save = str(Path(folder) / f"{n_processes}-{threads}-{{rank}}.joblib")
    args = [str(SCRIPT), "--batch-size", str(batch_size), "--max-epochs", str(epochs),
            "--save", save]
    if n_processes > 1:
        args = ["-m", "torch.distributed.run", "--nproc-per-node", str(n_processes),
                "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), *args]
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
    return joblib.load(save.format(rank=0))


def bench_ddp(epochs, batch_size):
    """Rows/s and test AUC of one network trained by 1 or 2 processes."""
    X, _ = load_adult(return_X_y=True)
    X_test, y_test = load_adult(subset="test", return_X_y=True)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for n_processes, threads in [(1, 2), (1, 1), (2, 1)]:
            model = _run_script(n_processes, threads, batch_size // n_processes, epochs, folder)
            seconds = sum(record["seconds"] for record in model.history_)
            n_train = round(len(X) * 0.9)  # the rows left after the validation split
            results.append({
                "processes x threads": f"{n_processes} x {threads}",
                "rows per step": f"{n_processes} x {batch_size // n_processes}",
                "epochs": model.n_iter_,
                "train rows/s": n_train * model.n_iter_ / seconds,
                "test AUC": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]),
            })
    for record in results:
        record["speed"] = record["train rows/s"]
    _print_table(results, f"One network, {len(X):,} Adult rows, up to {epochs} epochs, "
                          f"effective batch {batch_size}")


def _print_table(results, title):
    """Print the records with their speed-up over the first one (from their "speed")."""
    table = pd.DataFrame(results)
    speeds = table.pop("speed")
    table["speed-up"] = [f"{speed / speeds[0]:.2f}x" for speed in speeds]
    print(f"\n### {title}, {os.cpu_count()} cores")
    print(table.to_markdown(index=False, floatfmt=",.4f"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="search,ddp")
    parser.add_argument("--rows", type=int, default=8_000, help="rows of the search")
    parser.add_argument("--search-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the ddp part")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="effective batch of the ddp part")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"torch {torch.__version__}, {os.cpu_count()} cores")
    if "search" in parts:
        bench_search(args.rows, args.search_epochs)
    if "ddp" in parts:
        bench_ddp(args.epochs, args.batch_size)


if __name__ == "__main__":
    main()
