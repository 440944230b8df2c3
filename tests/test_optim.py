"""The embedding updates: touched rows follow torch's Adam exactly; untouched rows stay put."""

import pytest
import torch
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier
from skautoint._network import AutoIntNet
from skautoint._optim import NetworkOptimizer


def _trained(update, weight_decay, batches):
    torch.manual_seed(0)
    module = AutoIntNet(200, 5, linear_term=True, mlp_hidden_units=(8,))
    optimizer = NetworkOptimizer(module, update, lr=0.01, weight_decay=0.0,
                                 embedding_weight_decay=weight_decay)
    for index, value, target in batches:
        with optimizer.batch(index):
            logits = module(index, value)[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return module.state_dict()


@pytest.fixture
def same_rows_every_step():
    """Four steps on batches that each use all of the same 60 rows of 200, some repeatedly."""
    generator = torch.Generator().manual_seed(1)
    used = torch.randperm(200, generator=generator)[:60]
    batches = []
    for _ in range(4):
        index = used[torch.randint(0, 60, (32, 5), generator=generator)]
        index[:12] = used.view(12, 5)
        batches.append((index, torch.rand(32, 5, generator=generator),
                        torch.randint(0, 2, (32,), generator=generator).float()))
    return batches, used


def test_touched_update_equals_dense_adam_without_decay(same_rows_every_step):
    batches, _ = same_rows_every_step
    dense = _trained("dense", 0.0, batches)
    touched = _trained("touched", 0.0, batches)
    for name in dense:
        torch.testing.assert_close(touched[name], dense[name], rtol=1e-5, atol=1e-7)


def test_touched_update_decays_only_the_rows_in_the_batch(same_rows_every_step):
    batches, rows = same_rows_every_step
    start = _trained("dense", 0.0, [])
    dense = _trained("dense", 0.1, batches)
    touched = _trained("touched", 0.1, batches)
    untouched = torch.ones(200, dtype=torch.bool)
    untouched[rows] = False
    for name in ("embedding.weight", "linear.weight"):
        torch.testing.assert_close(touched[name][rows], dense[name][rows],
                                   rtol=1e-5, atol=1e-7)
        assert torch.equal(touched[name][untouched], start[name][untouched])
        moved = (dense[name][untouched] != start[name][untouched]).any(dim=1)
        # dense Adam's L2 moves every row whose value is not zero (the linear term's start at 0)
        assert moved.all() if name == "embedding.weight" else not moved.any()
    torch.testing.assert_close(touched["output.weight"], dense["output.weight"])


def test_estimator_chooses_dense_for_small_tables_and_touched_learns_as_well(adult_small):
    X, y, X_test, y_test = adult_small
    scores, choices = {}, {}
    for update in ("auto", "touched"):
        clf = AutoIntClassifier(max_epochs=4, random_state=0, embedding_update=update)
        clf.fit(X, y)
        scores[update] = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
        choices[update] = clf.embedding_update_
    assert choices == {"auto": "dense", "touched": "touched"}
    assert scores["touched"] > 0.85
    assert abs(scores["touched"] - scores["auto"]) < 0.01


def test_warm_start_with_another_update_starts_a_new_optimizer(adult_small):
    X, y, _, _ = adult_small
    clf = AutoIntClassifier(max_epochs=1, random_state=0, warm_start=True).fit(X, y)
    assert clf.embedding_update_ == "dense"
    clf.set_params(embedding_update="touched").fit(X, y)
    assert clf.embedding_update_ == "touched" and clf.n_iter_ == 2
