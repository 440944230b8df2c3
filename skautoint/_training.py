"""The training loop: batches sliced from tensors, Adam, early stopping, history.

Data arrive as contiguous tensors built once per fit; every epoch draws one permutation and
slices batches from it, so there is no per-sample Python work and no DataLoader.
"""

import copy
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

__all__ = ["TensorData", "TrainingConfig", "predict_logits", "train"]

PREDICT_BATCH_SIZE = 4096


@dataclass
class TensorData:
    """Encoded rows as tensors: the network's inputs, targets and sample weights."""

    index: torch.Tensor
    value: torch.Tensor
    target: torch.Tensor = None
    weight: torch.Tensor = None

    def __len__(self):
        return self.index.shape[0]


@dataclass
class TrainingConfig:
    """The training settings taken from the estimator's parameters."""

    learning_rate: float
    batch_size: int
    max_epochs: int
    weight_decay: float
    n_iter_no_change: int
    tol: float
    verbose: int


def per_sample_loss(logits, target):
    """Log-loss of every row: sigmoid for one output, softmax for several."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], target.float(), reduction="none")
    return F.cross_entropy(logits, target, reduction="none")


def _accuracy(logits, target, weight):
    predicted = (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)
    return float(((predicted == target).float() * weight).sum() / weight.sum())


def predict_logits(module, data, batch_size=PREDICT_BATCH_SIZE):
    """Logits for every row, computed in eval mode without autograd.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    data : TensorData
        Rows to score.
    batch_size : int, default=4096
        Rows per forward pass.

    Returns
    -------
    Tensor of shape (n_rows, n_outputs)
    """
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            chunks = [
                module(data.index[i:i + batch_size], data.value[i:i + batch_size])
                for i in range(0, len(data), batch_size)
            ]
    finally:
        module.train(was_training)
    return torch.cat(chunks)


def _evaluate(module, data):
    logits = predict_logits(module, data)
    loss = float((per_sample_loss(logits, data.target) * data.weight).sum() / data.weight.sum())
    return loss, _accuracy(logits, data.target, data.weight)


def train(module, train_data, config, *, generator, validation_data=None, optimizer=None,
          first_epoch=1):
    """Train ``module`` in place; with validation data, stop early and restore the best epoch.

    Parameters
    ----------
    module : torch.nn.Module
        The network, already on its device.
    train_data : TensorData
        Training rows, with targets and weights (weights average to 1).
    config : TrainingConfig
        Learning rate, batch size, epochs and early-stopping settings.
    generator : torch.Generator
        Source of the batch order.
    validation_data : TensorData, default=None
        Rows scored after every epoch; the epoch with the lowest validation loss wins.
    optimizer : torch.optim.Optimizer, default=None
        Optimizer to continue with (warm start); a new Adam otherwise.
    first_epoch : int, default=1
        Number of the first epoch (continues the count on a warm start).

    Returns
    -------
    history : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``valid_loss``, ``valid_score``
        (accuracy), ``seconds`` and ``best``.
    best_epoch : int
        The epoch whose weights the module holds on return.
    optimizer : torch.optim.Optimizer
        The optimizer, to continue training later.
    """
    if optimizer is None:
        optimizer = torch.optim.Adam(
            module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
    n_rows = len(train_data)
    history, best_loss, best_epoch, best_state = [], float("inf"), None, None
    epochs_without_gain = 0
    for epoch in range(first_epoch, first_epoch + config.max_epochs):
        start = time.perf_counter()
        module.train()
        order = torch.randperm(n_rows, generator=generator).to(train_data.index.device)
        loss_sum = torch.zeros((), device=train_data.index.device)
        for begin in range(0, n_rows, config.batch_size):
            batch = order[begin:begin + config.batch_size]
            logits = module(train_data.index[batch], train_data.value[batch])
            losses = per_sample_loss(logits, train_data.target[batch]) * train_data.weight[batch]
            loss = losses.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += losses.detach().sum()
        record = {"epoch": epoch, "train_loss": float(loss_sum) / n_rows}
        if not torch.isfinite(loss_sum):
            raise FloatingPointError(
                f"The training loss became {float(loss_sum)} in epoch {epoch}; lower "
                "`learning_rate` or scale the inputs."
            )
        if validation_data is not None:
            record["valid_loss"], record["valid_score"] = _evaluate(module, validation_data)
        record["seconds"] = time.perf_counter() - start
        monitored = record.get("valid_loss", record["train_loss"])
        if monitored < best_loss - config.tol:
            best_loss, best_epoch, epochs_without_gain = monitored, epoch, 0
            if validation_data is not None:
                best_state = copy.deepcopy(module.state_dict())
        else:
            epochs_without_gain += 1
        record["best"] = best_epoch == epoch
        history.append(record)
        if config.verbose:
            _print_record(record)
        if validation_data is not None and epochs_without_gain >= config.n_iter_no_change:
            break
    if validation_data is not None:
        module.load_state_dict(best_state)
    else:
        best_epoch = history[-1]["epoch"]
    return history, best_epoch, optimizer


def _print_record(record):
    parts = [f"epoch {record['epoch']:>4}", f"train_loss {record['train_loss']:.5f}"]
    if "valid_loss" in record:
        parts += [f"valid_loss {record['valid_loss']:.5f}",
                  f"valid_acc {record['valid_score']:.4f}"]
    parts.append(f"{record['seconds']:.2f}s")
    print("  ".join(parts) + ("  *" if record["best"] else ""), flush=True)
