"""fit_network and the loop: weights, fresh tables, random state, early stopping, rollback."""

import numpy as np
import pytest
import torch

from skautoint._losses import classification_loss, make_regression_loss
from skautoint._network import AutoIntNet
from skautoint._training import (
    TrainingConfig,
    auto_batch_size,
    fit_network,
    predict_attention,
    predict_raw,
    to_tensor_data,
)
from skautoint.exceptions import TrainingDivergedError

N_FIELDS, N_PER_FIELD = 4, 10
TABLE_ROWS = N_FIELDS * N_PER_FIELD + 5  # the last 5 rows: levels no training row holds


def _data(n=2000, seed=0):
    """Codes of 4 fields with 10 levels each; the label is an interaction of fields 0 and 1."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, N_PER_FIELD, size=(n, N_FIELDS))
    index = (codes + N_PER_FIELD * np.arange(N_FIELDS)).astype(np.int32)
    target = ((codes[:, 0] + codes[:, 1]) % 2).astype(np.int64)
    return index, np.ones(index.shape, dtype=np.float32), target


def _config(**changes):
    return TrainingConfig(**{**dict(learning_rate=3e-3, batch_size=64, max_epochs=3,
                                    weight_decay=0.0, n_iter_no_change=2, tol=1e-4,
                                    verbose=0), **changes})


def _fit(index, value, target, weight=None, **changes):
    rows = changes.pop("train_rows", np.arange(len(target)))
    arguments = dict(
        module_params=dict(table_rows=TABLE_ROWS, n_fields=N_FIELDS, n_outputs=1,
                           embedding_dim=8, n_layers=1, attention_dim=8),
        index=index, value=value, target=target,
        sample_weight=np.ones(len(target)) if weight is None else weight, train_rows=rows,
        loss=classification_loss(2), config=_config(), seed=0, device="cpu",
    )
    return fit_network(**{**arguments, **changes})


def _accuracy(module, index, value, target):
    raw = predict_raw(module, to_tensor_data(index, value))
    return float(((raw[:, 0] > 0).numpy() == target).mean())


def test_a_new_network_learns_an_interaction_and_leaves_torch_as_it_was():
    index, value, target = _data()
    state = torch.random.get_rng_state()
    result = _fit(index, value, target, config=_config(max_epochs=8))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not result.module.training
    assert [r["epoch"] for r in result.history] == list(range(1, 9))
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    assert _accuracy(result.module, *_data(500, seed=1)) > 0.9  # a constant scores ~0.5


def test_table_rows_no_training_row_uses_start_at_zero():
    index, value, target = _data()
    result = _fit(index, value, target, config=_config(max_epochs=1))
    weight = result.module.embedding.weight.detach()
    assert torch.count_nonzero(weight[-5:]) == 0  # never looked up, only decayed
    assert torch.count_nonzero(weight[:-5].abs().sum(dim=1)) == TABLE_ROWS - 5


def test_sample_weights_are_relative():
    index, value, target = _data()
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(target))
    raw = [predict_raw(_fit(index, value, target, w).module, to_tensor_data(index, value))
           for w in (weight, 1000 * weight)]
    torch.testing.assert_close(raw[0], raw[1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="sample weights of the training rows sum to zero"):
        _fit(index, value, target, np.zeros(len(target)))


def test_early_stopping_keeps_the_best_epochs_weights():
    index, value, target = _data()
    noisy = np.where(np.random.default_rng(4).random(len(target)) < 0.3, 1 - target, target)
    valid = _data(400, seed=2)
    result = _fit(index, value, noisy, validation=(*valid, np.ones(400)),
                  config=_config(max_epochs=30, learning_rate=2e-2, tol=0.0))
    losses = [r["valid_loss"] for r in result.history]
    assert len(losses) < 30  # stopped
    assert result.best_epoch == 1 + int(np.argmin(losses))
    raw = predict_raw(result.module, to_tensor_data(valid[0], valid[1], valid[2], np.ones(400)))
    best = classification_loss(2).per_sample(raw, torch.as_tensor(valid[2])).mean()
    assert float(best) == pytest.approx(min(losses), rel=1e-5)
    assert all(r["best"] == (r["epoch"] == result.best_epoch) for r in result.history
               if r["epoch"] >= result.best_epoch)


def test_a_diverging_warm_network_gets_its_weights_back():
    index, value, target = _data()
    first = _fit(index, value, target, config=_config(max_epochs=1))
    before = {k: v.clone() for k, v in first.module.state_dict().items()}
    with pytest.raises(TrainingDivergedError, match="Training diverged"):
        _fit(index, value, target * 1e30, loss=make_regression_loss("squared_error"),
             warm=(first.module, None), config=_config(max_epochs=1, learning_rate=1e6))
    for name, tensor in first.module.state_dict().items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0)


def test_training_rows_are_picked_by_position():
    index, value, target = _data()
    rows = np.arange(0, len(target), 2)
    picked = _fit(index, value, target, train_rows=rows)
    copied = _fit(index[rows], value[rows], target[rows])
    test = to_tensor_data(*_data(300, seed=3)[:2])
    torch.testing.assert_close(predict_raw(picked.module, test), predict_raw(copied.module, test))
    assert auto_batch_size(len(rows)) == 64


def test_validation_rows_without_weight_are_refused():
    index, value, target = _data()
    with pytest.raises(ValueError, match="validation rows sum to zero"):
        _fit(index, value, target, validation=(index[:10], value[:10], target[:10],
                                               np.zeros(10)))


def test_every_process_needs_training_rows():
    index, value, target = _data()
    with pytest.raises(ValueError, match="share of the training rows is empty"):
        _fit(index, value, target, train_rows=np.array([], dtype=int))


def test_the_network_can_be_built_with_each_module_parameter():
    # fit_network takes AutoIntNet's keyword arguments as they are
    module = AutoIntNet(TABLE_ROWS, N_FIELDS, residual="identity", output_projection="per_field")
    assert module.layers[0].output_dim == 16


def test_a_row_scored_alone_predicts_as_in_a_batch_and_summed_attention_agrees():
    # Fewer than 8 rows are scored padded to 8: one row alone takes the same matrix kernels
    # as in a batch of 8, where without padding it took a matrix-vector path.
    torch.manual_seed(0)
    module = AutoIntNet(50, 6, embedding_dim=8, attention_dim=4, field_pair_bias="all_layers")
    with torch.no_grad():
        for layer in module.layers:
            layer.pair_bias.normal_()
    index = torch.randint(0, 50, (8, 6)).numpy()
    value = torch.rand(8, 6).numpy()
    batch = to_tensor_data(index, value)
    together = predict_raw(module, batch)
    for row in range(8):
        alone = predict_raw(module, to_tensor_data(index[row:row + 1], value[row:row + 1]))
        torch.testing.assert_close(alone, together[row:row + 1], rtol=0, atol=0)
    first_three = to_tensor_data(index[:3], value[:3])
    per_row = predict_attention(module, first_three)
    assert per_row.shape == (3, 3, 2, 6, 6)
    torch.testing.assert_close(predict_attention(module, first_three, summed=True),
                               per_row.sum(dim=0))
    torch.testing.assert_close(per_row, predict_attention(module, batch)[:3], rtol=0, atol=0)
