"""A hyperparameter search over a skautoint Pipeline on a Dask cluster equals the local one."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautoint import AutoIntClassifier, make_field_transformer

distributed = pytest.importorskip("distributed")

GRID = {"autointclassifier__n_heads": [1, 2], "autointclassifier__embedding_dim": [8, 16]}


def _search(X, y):
    pipeline = make_pipeline(make_field_transformer(),
                             AutoIntClassifier(max_epochs=3, random_state=0))
    return GridSearchCV(pipeline, GRID, cv=2, scoring="roc_auc", n_jobs=-1).fit(X, y)


def test_grid_search_on_a_local_dask_cluster_equals_the_search_in_this_process(adult):
    X, y = adult[0].iloc[:2_000], adult[1].iloc[:2_000]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each worker: the same float operations in the same order
    try:
        with joblib.parallel_backend("sequential"):
            local = _search(X, y)
    finally:
        torch.set_num_threads(threads)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # the nanny starts each worker with OMP_NUM_THREADS=1: one torch thread per core
        worker_threads = client.run(torch.get_num_threads)
        with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            remote = _search(X, y)
    assert sorted(worker_threads.values()) == [1, 1]
    assert len({task["worker"] for task in tasks.data}) == 2  # both workers fitted
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=0, atol=1e-6)
    assert remote.best_params_ == local.best_params_
    assert remote.cv_results_["mean_test_score"].min() > 0.8
