"""The training loop: batches sliced from tensors, Adam, early stopping, history.

Data arrive as contiguous tensors built once per fit; every epoch draws one permutation and
slices batches from it, so there is no per-sample Python work and no DataLoader.
"""

import copy
import math
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ._distributed import LOCAL, wrap_order
from ._optim import NetworkOptimizer, resolve_embedding_update
from .exceptions import TrainingDivergedError

__all__ = [
    "TensorData",
    "TrainingConfig",
    "TrainingResult",
    "auto_batch_size",
    "auto_learning_rate",
    "predict_attention",
    "predict_logits",
    "train",
]

# Rows per forward pass at prediction. Batches that stay in cache are faster: on 2 CPU cores
# (39 fields, 3 layers) 2048 scored 21k rows/s and 4096 15k (benchmarks/bench_speed.py data).
PREDICT_BATCH_SIZE = 2048
#: Batches between two checks that the running loss is finite (a check costs a device sync).
_FINITE_CHECK_EVERY = 64


def auto_batch_size(n_samples):
    """Batch size for ``batch_size="auto"``: about 100 steps per epoch, a power of 2 in [32, 1024].

    Small tables need many small steps per epoch to train before early stopping ends them;
    large ones run faster per row in batches of 512-1024 (the CPU caches stay warm).

    >>> auto_batch_size(800), auto_batch_size(30_000), auto_batch_size(10_000_000)
    (32, 256, 1024)
    """
    exponent = round(math.log2(max(n_samples, 1) / 100))
    return int(min(1024, max(32, 2 ** exponent)))


def auto_learning_rate(batch_size):
    """Adam step size for ``learning_rate="auto"``: ``1e-3 * sqrt(batch_size / 256)``, at least
    5e-4 (a gradient's noise falls with the square root of the batch).

    The floor keeps small tables, which get small batches, training fast enough for early
    stopping to see progress.

    >>> auto_learning_rate(32), auto_learning_rate(256), round(auto_learning_rate(1024), 6)
    (0.0005, 0.001, 0.002)
    """
    return max(5e-4, 1e-3 * math.sqrt(batch_size / 256))


@dataclass
class TensorData:
    """Encoded rows as tensors: the network's inputs, targets and sample weights.

    ``rows``, when given, holds the positions of the rows to train on (the others are held
    out for validation), so that the training rows need no copy of their own.
    """

    index: torch.Tensor
    value: torch.Tensor
    target: torch.Tensor = None
    weight: torch.Tensor = None
    rows: torch.Tensor = None

    def __len__(self):
        return self.index.shape[0] if self.rows is None else len(self.rows)


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
    embedding_weight_decay: float = 0.0
    embedding_update: str = "auto"


@dataclass
class TrainingResult:
    """What :func:`train` reports back to the estimator."""

    history: list
    best_epoch: int
    optimizer: NetworkOptimizer
    interrupted: bool = False


def per_sample_loss(logits, target):
    """Log-loss of every row: sigmoid for one output, softmax for several."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], target.float(), reduction="none")
    return F.cross_entropy(logits, target, reduction="none")


def _predicted_class(logits):
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)


def predict_logits(module, data, batch_size=PREDICT_BATCH_SIZE):
    """Logits for every row, computed in eval mode without autograd.

    When a batch does not fit in GPU memory, the batch size is halved and the batch retried.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    data : TensorData
        Rows to score.
    batch_size : int, default=2048
        Rows per forward pass.

    Returns
    -------
    Tensor of shape (n_rows, n_outputs)
    """
    return _batched_inference(module, data, batch_size, module)


def predict_attention(module, data, batch_size=PREDICT_BATCH_SIZE, *, summed=False):
    """Every interacting layer's attention weights for every row (eval mode, no autograd).

    Parameters
    ----------
    module : AutoIntNet
        The network.
    data : TensorData
        Rows to explain.
    batch_size : int, default=2048
        Rows per forward pass.
    summed : bool, default=False
        Return the sum over rows only, in memory independent of the number of rows.

    Returns
    -------
    Tensor of shape (n_rows, n_layers, n_heads, n_fields, n_fields)
        ``[i, l, h, m, k]`` is the weight field ``m`` gives field ``k`` in layer ``l``, head
        ``h`` for row ``i``; it sums to 1 over ``k``. With ``summed``, the sum over ``i`` and
        no first axis.
    """
    def attention(index, value):
        _, per_layer = module(index, value, return_attention=True)
        weights = torch.stack(per_layer, dim=1)
        return weights.sum(dim=0, keepdim=True) if summed else weights

    weights = _batched_inference(module, data, batch_size, attention)
    return weights.sum(dim=0) if summed else weights


def _batched_inference(module, data, batch_size, forward):
    """Concatenate ``forward(index, value)`` over batches of ``data``, halving the batch on
    GPU out-of-memory errors."""
    was_training = module.training
    module.eval()
    chunks, begin = [], 0
    try:
        with torch.inference_mode():
            while begin < len(data):
                end = begin + batch_size
                try:
                    chunks.append(forward(data.index[begin:end], data.value[begin:end]))
                except torch.cuda.OutOfMemoryError as exc:
                    if batch_size == 1:
                        raise _out_of_memory_error(exc, "predicting one row") from exc
                    batch_size = max(1, batch_size // 2)
                    _release_cached_memory()
                    continue
                begin = end
    finally:
        module.train(was_training)
    return torch.cat(chunks)


def _release_cached_memory():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _out_of_memory_error(exc, doing):
    return torch.cuda.OutOfMemoryError(
        f"The GPU ran out of memory while {doing}: {exc}. Lower `batch_size`, free memory held "
        "by other processes, or train with device='cpu'."
    )


def _evaluate(module, data, group=LOCAL):
    """Weighted log-loss and accuracy over the validation rows of every process."""
    sums = torch.zeros(3, device=data.index.device)
    if len(data):
        logits = predict_logits(module, data)
        correct = (_predicted_class(logits) == data.target).float()
        sums = torch.stack([(per_sample_loss(logits, data.target) * data.weight).sum(),
                            data.weight.sum(), (correct * data.weight).sum()])
    loss_sum, weight_sum, correct_sum = group.sum(sums).tolist()
    return loss_sum / weight_sum, correct_sum / weight_sum


def train(module, train_data, config, *, generator, validation_data=None, optimizer=None,
          first_epoch=1, group=LOCAL):
    """Train ``module`` in place; with validation data, stop early and restore the best epoch.

    A ``KeyboardInterrupt`` ends training like early stopping does (best weights restored) and
    is reported in the result instead of propagating.

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
    optimizer : NetworkOptimizer, default=None
        Optimizer to continue with (warm start); a new one otherwise.
    first_epoch : int, default=1
        Number of the first epoch (continues the count on a warm start).
    group : LocalGroup or ProcessGroup, default=LOCAL
        The processes training together (:mod:`skautoint._distributed`): each holds its own
        ``train_data`` and ``validation_data``, the losses reported and monitored are those of
        all their rows, and every step averages the gradients over the processes.

    Returns
    -------
    result : TrainingResult
        ``history`` (one record per epoch: ``epoch``, ``train_loss``, ``valid_loss``,
        ``valid_score`` (accuracy), ``seconds`` and ``best``), ``best_epoch`` (the epoch whose
        weights the module holds; 0 when interrupted before one completed), the
        ``optimizer`` to continue with, and whether training was ``interrupted``.

    Raises
    ------
    TrainingDivergedError
        When the training loss becomes NaN or infinite; the module's weights are then unusable.
    torch.cuda.OutOfMemoryError
        When a batch does not fit in GPU memory, with a message that suggests a remedy.
    """
    update = resolve_embedding_update(config.embedding_update, module)
    if optimizer is None or optimizer.embedding_update != update:
        optimizer = NetworkOptimizer(module, update, config.learning_rate, config.weight_decay,
                                     config.embedding_weight_decay, group)
    else:  # a warm start takes the current settings
        optimizer.set_hyperparameters(config.learning_rate, config.weight_decay,
                                      config.embedding_weight_decay)
        optimizer.group = group
    history, best_loss, best_epoch, best_state = [], float("inf"), 0, None
    epochs_without_gain, interrupted = 0, False
    try:
        for epoch in range(first_epoch, first_epoch + config.max_epochs):
            start = time.perf_counter()
            train_loss = _run_epoch(module, train_data, optimizer, config.batch_size, generator,
                                    epoch, progress=config.verbose >= 2, group=group)
            record = {"epoch": epoch, "train_loss": train_loss}
            if validation_data is not None:
                record["valid_loss"], record["valid_score"] = _evaluate(module, validation_data,
                                                                        group)
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
                _print_record(record, header=epoch == first_epoch)
            if validation_data is not None and epochs_without_gain >= config.n_iter_no_change:
                break
    except KeyboardInterrupt:
        interrupted = True
    if best_state is not None:
        module.load_state_dict(best_state)
    elif history and validation_data is None:
        best_epoch = history[-1]["epoch"]
    return TrainingResult(history, best_epoch, optimizer, interrupted)


def _run_epoch(module, data, optimizer, batch_size, generator, epoch, progress=False,
               group=LOCAL):
    """One pass over ``data`` in a random order; returns the mean weighted training loss
    (over every process's rows).

    ``progress`` shows a tqdm bar over the batches (``verbose=2``). Every process of
    ``group`` takes as many steps as the one with the most rows needs.
    """
    module.train()
    n_rows = group.max(len(data))
    order = wrap_order(torch.randperm(len(data), generator=generator), n_rows)
    if data.rows is not None:
        order = data.rows[order]
    order = order.to(data.index.device)
    loss_sum = torch.zeros((), device=data.index.device)
    starts = range(0, n_rows, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"epoch {epoch}", unit="batch", leave=False)
    for step, begin in enumerate(starts, start=1):
        batch = order[begin:begin + batch_size]
        index = data.index[batch]
        try:
            with optimizer.batch(index):
                logits = module(index, data.value[batch])
                losses = per_sample_loss(logits, data.target[batch]) * data.weight[batch]
                optimizer.zero_grad()
                losses.mean().backward()
                optimizer.step()
        except torch.cuda.OutOfMemoryError as exc:
            raise _out_of_memory_error(exc, f"training a batch of {len(batch)} rows") from exc
        loss_sum += losses.detach().sum()
        if step % _FINITE_CHECK_EVERY == 0 or begin + batch_size >= n_rows:
            _check_finite(group.sum(loss_sum), epoch)  # every process stops together
    return float(group.sum(loss_sum)) / (n_rows * group.world_size)


def _check_finite(loss_sum, epoch):
    if not torch.isfinite(loss_sum):
        raise TrainingDivergedError(
            f"Training diverged: the loss became {float(loss_sum)} in epoch {epoch}. Lower "
            "`learning_rate`, add `weight_decay`, or check the inputs for extreme values."
        )


_COLUMNS = [("epoch", "{:>5}", "epoch"), ("train_loss", "{:>10.5f}", "train_loss"),
            ("valid_loss", "{:>10.5f}", "valid_loss"), ("valid_score", "{:>9.4f}", "valid_acc"),
            ("seconds", "{:>7.2f}", "seconds")]


def _print_record(record, header=False):
    """One line per epoch under a header, the best epoch so far marked with ``*``."""
    columns = [(key, fmt, title) for key, fmt, title in _COLUMNS if key in record]
    if header:
        widths = [len(fmt.format(record[key])) for key, fmt, _ in columns]
        print("  ".join(f"{title:>{w}}" for (_, _, title), w in zip(columns, widths,
                                                                     strict=True)))
    line = "  ".join(fmt.format(record[key]) for key, fmt, _ in columns)
    print(line + ("  *" if record["best"] else ""), flush=True)
