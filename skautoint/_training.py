"""Training a network on encoded rows: tensors, the loop, early stopping, history, rollback.

:func:`fit_network` is what an estimator calls: it turns the encoded arrays into tensors on
the device, builds the network (or continues a warm one), trains it in a random-number
context of its own and puts the previous weights back when training diverges. :func:`train`
is the loop: data arrive as contiguous tensors built once per fit; every epoch draws one
permutation and slices batches from it, so there is no per-sample Python work and no
DataLoader. What a raw output means (the loss, its inverse link, the validation score) comes
from a loss object of :mod:`skautoint._losses`.
"""

import contextlib
import copy
import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ._distributed import LOCAL, wrap_order
from ._network import AutoIntNet
from ._optim import NetworkOptimizer, resolve_embedding_update
from .exceptions import TrainingDivergedError

__all__ = [
    "PRECISIONS",
    "TensorData",
    "TrainingConfig",
    "TrainingResult",
    "auto_batch_size",
    "auto_learning_rate",
    "fit_network",
    "predict_attention",
    "predict_raw",
    "resolve_precision",
    "target_moments",
    "to_tensor_data",
    "torch_context",
    "train",
]

# Rows per forward pass at prediction. Batches whose activations stay in the cores' caches are
# faster: on 2 CPU cores (39 fields, 3 layers, heads of 16; benchmarks/bench_speed.py data)
# 256 rows scored 44k rows/s, 512 51k, 1024 34k and 2048 18k.
PREDICT_BATCH_SIZE = 512

#: Fewer rows than this are scored padded to it (with copies of their last row): for one to
#: three rows the CPU's matrix kernels take a matrix-vector path that sums in another order,
#: so a row scored alone would differ from the same row scored in a batch (float32 rounding
#: between other batch sizes remains).
MIN_INFERENCE_ROWS = 8
#: Choices of ``precision``: "bfloat16" runs the training steps' forward pass under
#: ``torch.autocast`` (matrix products in bfloat16, weights, optimizer and loss in float32).
PRECISIONS = ("auto", "float32", "bfloat16")
#: Batches between two checks that the running loss is finite (a check costs a device sync).
_FINITE_CHECK_EVERY = 64


def auto_batch_size(n_samples):
    """Batch size for ``batch_size="auto"``: about 50 steps per epoch, a power of 2 in [64, 1024].

    A step costs a fixed overhead (about 3 ms on 2 CPU cores, whatever the batch, below 64
    rows) plus its rows, and bfloat16 steps run faster per row up to 512 rows; 50 steps per
    epoch reached the quality of skautoint 0.2's 100 (batches of 32 to 1024) in fewer
    seconds on every set of ``benchmarks/bench_quality.py``.

    >>> auto_batch_size(800), auto_batch_size(30_000), auto_batch_size(10_000_000)
    (64, 512, 1024)
    """
    exponent = round(math.log2(max(n_samples, 1) / 50))
    return int(min(1024, max(64, 2 ** exponent)))


def auto_learning_rate(batch_size):
    """Adam step size for ``learning_rate="auto"``: 2e-3, times ``sqrt(batch_size / 1024)``
    for batches above 1024 (a gradient's noise falls with the square root of the batch).

    skautoint 0.2 took ``1e-3 * sqrt(batch_size / 256)``, at least 5e-4: with the batches of
    ``batch_size="auto"`` (64 to 1024 rows) 2e-3 reached the same quality in fewer epochs
    than that rule with a floor of 1e-3 (``benchmarks/bench_quality.py``; the benchmarks
    page, "Time to accuracy").

    >>> auto_learning_rate(64), auto_learning_rate(1024), auto_learning_rate(4096)
    (0.002, 0.002, 0.004)
    """
    return 2e-3 * math.sqrt(max(1.0, batch_size / 1024))


def resolve_precision(precision, device, batch_size, n_fields, layer_width):
    """``"float32"`` or ``"bfloat16"``: ``"auto"`` takes bfloat16 on CPUs with AMX tiles for
    steps with enough work: batches of at least 4096 fields (``batch_size * n_fields``) and
    interacting layers at least 64 wide (``n_heads * attention_dim``, the default's).

    On 2 cores of such a CPU (Sapphire Rapids) a 2048 x 2048 product runs at about 2,600
    GFLOP/s in bfloat16 against 380 in float32. A training step of the default layers (2
    heads of 32) took 0.6x-0.7x the float32 time from 1024 rows x 8 fields to 1024 x 39, and
    0.8x at 128 x 39; smaller steps, and narrower layers (heads of 8 or 16 on 20-30 fields),
    ran slower in bfloat16, the casts costing more than the products gain (0.65x-1.0x the
    speed). Elsewhere (CPUs without AMX, and CUDA, not yet measured) ``"auto"`` keeps
    float32.

    >>> resolve_precision("float32", "cpu", 512, 39, 64)
    'float32'
    >>> resolve_precision("auto", "cuda", 512, 39, 64)
    'float32'
    """
    if precision != "auto":
        return precision
    native = torch.device(device).type == "cpu" and has_amx()
    large = batch_size * n_fields >= 4096 and layer_width >= 64
    return "bfloat16" if native and large else "float32"


def has_amx():
    """Whether this CPU multiplies bfloat16 matrices in AMX tiles (False when torch cannot
    tell)."""
    supported = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(supported()) if supported is not None else False
    except RuntimeError:
        return False


def _autocast(precision, device):
    """The context of a training step's forward pass at ``precision``."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                          enabled=precision == "bfloat16")


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
    precision: str = "float32"


@dataclass
class TrainingResult:
    """What :func:`train` (and :func:`fit_network`) report back to the estimator."""

    history: list
    best_epoch: int
    optimizer: NetworkOptimizer
    interrupted: bool = False
    module: torch.nn.Module = None


def to_tensor_data(index, value, target=None, weight=None, *, device="cpu",
                   target_dtype=torch.int64):
    """Encoded NumPy arrays as :class:`TensorData` on ``device`` (targets, weights optional)."""
    return TensorData(
        index=torch.as_tensor(index, device=device),  # int32 from FieldSpec.to_arrays
        value=torch.as_tensor(value, dtype=torch.float32, device=device),
        target=None if target is None else torch.as_tensor(target, device=device).to(
            target_dtype),
        weight=None if weight is None else torch.as_tensor(weight, dtype=torch.float32,
                                                           device=device),
    )


def predict_raw(module, data, batch_size=PREDICT_BATCH_SIZE):
    """Raw outputs (logits, or the standardised target) for every row, in eval mode without
    autograd.

    When a batch does not fit in GPU memory, the batch size is halved and the batch retried.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    data : TensorData
        Rows to score.
    batch_size : int, default=512
        Rows per forward pass.

    Returns
    -------
    Tensor of shape (n_rows, n_outputs)
    """
    return _batched_inference(module, data, batch_size, module)


def _padded(forward, index, value, rows):
    """``forward(index, value)`` on at least ``rows`` rows (copies of the last one added), cut
    back to the rows given."""
    missing = rows - len(index)
    if missing <= 0 or len(index) == 0:
        return forward(index, value)
    index = torch.cat([index, index[-1:].expand(missing, *index.shape[1:])])
    value = torch.cat([value, value[-1:].expand(missing, *value.shape[1:])])
    return forward(index, value)[:rows - missing]


def predict_attention(module, data, batch_size=PREDICT_BATCH_SIZE, *, summed=False):
    """Every interacting layer's attention weights for every row (eval mode, no autograd).

    Parameters
    ----------
    module : AutoIntNet
        The network.
    data : TensorData
        Rows to explain.
    batch_size : int, default=512
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
        return torch.stack(per_layer, dim=1)

    return _batched_inference(module, data, batch_size, attention, summed=summed)


def _batched_inference(module, data, batch_size, forward, *, summed=False):
    """Concatenate ``forward(index, value)`` over batches of ``data`` (or, with ``summed``,
    sum it over rows), halving the batch on GPU out-of-memory errors. Batches of fewer than
    :data:`MIN_INFERENCE_ROWS` rows are scored padded to that size (or to the batch size,
    when out-of-memory errors have halved it below)."""
    was_training = module.training
    module.eval()
    chunks, begin = [], 0
    try:
        with torch_context(training=False):
            while begin < len(data):
                end = begin + batch_size
                try:
                    chunk = _padded(forward, data.index[begin:end], data.value[begin:end],
                                    min(MIN_INFERENCE_ROWS, batch_size))
                    chunks.append(chunk.sum(dim=0, keepdim=True) if summed else chunk)
                except torch.cuda.OutOfMemoryError as exc:
                    if batch_size == 1:
                        raise _out_of_memory_error(exc, "predicting one row") from exc
                    batch_size = max(1, batch_size // 2)
                    _release_cached_memory()
                    continue
                begin = end
    finally:
        module.train(was_training)
    return torch.cat(chunks).sum(dim=0) if summed else torch.cat(chunks)


@contextlib.contextmanager
def torch_context(*, training, export=False):
    """skautoint's own torch settings, whatever the caller's: gradients on and no inference
    mode for ``training`` (inference mode otherwise; for ``export``, gradients off outside
    inference mode, which tracing needs), no autocast, and CPU as the device of tensors made
    without one (a caller's ``torch.set_default_device`` does not reach in)."""
    with contextlib.ExitStack() as stack:
        if training or export:
            stack.enter_context(torch.inference_mode(False))
            stack.enter_context(torch.enable_grad() if training else torch.no_grad())
        else:
            stack.enter_context(torch.inference_mode())
        for device_type in ("cpu", "cuda"):
            if torch.is_autocast_enabled(device_type):
                stack.enter_context(torch.autocast(device_type, enabled=False))
        if torch.get_default_device().type != "cpu":
            stack.enter_context(torch.device("cpu"))  # a function mode: only when needed
        yield


def _release_cached_memory():
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _out_of_memory_error(exc, doing):
    return torch.cuda.OutOfMemoryError(
        f"The GPU ran out of memory while {doing}: {exc}. Lower `batch_size`, free memory held "
        "by other processes, or train with device='cpu'."
    )


def _evaluate(module, data, loss, group=LOCAL):
    """Weighted mean loss and the loss's validation score over the validation rows of every
    process."""
    raw = predict_raw(module, data)
    statistics = torch.cat([
        torch.stack([(loss.per_sample(raw, data.target) * data.weight).sum(), data.weight.sum()]),
        loss.score_statistics(raw, data.target, data.weight),
    ]).double()
    statistics = group.sum(statistics).cpu()
    return float(statistics[0] / statistics[1]), loss.score_from(statistics[2:])


def train(module, train_data, config, *, loss, generator, validation_data=None, optimizer=None,
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
    loss : Loss
        What the raw outputs mean: the per-sample loss and the validation score.
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
        ``valid_score`` (the loss's score: accuracy, R²...), ``seconds`` and ``best``),
        ``best_epoch`` (the epoch whose weights the module holds; 0 when interrupted before
        one completed), the
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
            train_loss = _run_epoch(module, train_data, optimizer, loss, config.batch_size,
                                    generator, epoch, progress=config.verbose >= 2, group=group,
                                    precision=config.precision)
            record = {"epoch": epoch, "train_loss": train_loss}
            if validation_data is not None:
                record["valid_loss"], record["valid_score"] = _evaluate(
                    module, validation_data, loss, group)
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
                _print_record(record, loss.score_name, header=epoch == first_epoch)
            if validation_data is not None and epochs_without_gain >= config.n_iter_no_change:
                break
    except KeyboardInterrupt:
        interrupted = True
    if best_state is not None:
        module.load_state_dict(best_state)
    elif history and validation_data is None:
        best_epoch = history[-1]["epoch"]
    return TrainingResult(history, best_epoch, optimizer, interrupted)


def _run_epoch(module, data, optimizer, loss, batch_size, generator, epoch, progress=False,
               group=LOCAL, precision="float32"):
    """One pass over ``data`` in a random order; returns the mean weighted training loss
    (over every process's rows).

    ``progress`` shows a tqdm bar over the batches (``verbose=2``). Every process of
    ``group`` takes as many steps as the one with the most rows needs. With ``precision``
    ``"bfloat16"`` the forward pass runs under autocast; the loss is taken in float32.
    """
    module.train()
    n_rows = group.max(len(data))
    order = wrap_order(torch.randperm(len(data), generator=generator, device="cpu"), n_rows)
    if data.rows is not None:
        order = data.rows[order]
    order = order.to(data.index.device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=data.index.device)
    starts = range(0, n_rows, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=f"epoch {epoch}", unit="batch", leave=False)
    for step, begin in enumerate(starts, start=1):
        batch = order[begin:begin + batch_size]
        index = data.index[batch]
        try:
            with optimizer.batch(index):
                with _autocast(precision, data.index.device):
                    raw = module(index, data.value[batch])
                losses = loss.per_sample(raw.float(), data.target[batch]) * data.weight[batch]
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
            ("valid_loss", "{:>10.5f}", "valid_loss"), ("valid_score", "{:>9.4f}", "valid_{}"),
            ("seconds", "{:>7.2f}", "seconds")]


def _print_record(record, score_name, header=False):
    """One line per epoch under a header, the best epoch so far marked with ``*``."""
    columns = [(key, fmt, title.format(score_name)) for key, fmt, title in _COLUMNS
               if key in record]
    widths = [max(len(fmt.format(record[key])), len(title)) for key, fmt, title in columns]
    if header:
        print("  ".join(f"{title:>{w}}" for (_, _, title), w in zip(columns, widths,
                                                                     strict=True)))
    line = "  ".join(f"{fmt.format(record[key]):>{w}}"
                     for (key, fmt, _), w in zip(columns, widths, strict=True))
    print(line + ("  *" if record["best"] else ""), flush=True)


def fit_network(*, module_params, index, value, target, sample_weight, train_rows, loss,
                config, seed, device, validation=None, warm=None, first_epoch=1, group=LOCAL):
    """Train a new network, or a copy of ``warm``, on encoded rows.

    Nothing outside the returned result is changed: a warm network is trained as a copy, so
    that a failure at any point leaves the caller's network and optimizer as they were, and
    every random draw (initialisation, batch order, dropout) comes from generators seeded
    here, never from torch's global one. Training runs with gradients on and outside
    inference mode and autocast, whatever the caller's torch context.

    Parameters
    ----------
    module_params : dict
        Keyword arguments of :class:`~skautoint._network.AutoIntNet` for a new network.
    index, value : ndarray of shape (n_rows, n_fields)
        The encoded rows (:meth:`FieldSpec.to_arrays`); training takes ``train_rows`` of
        them by position, without a copy.
    target : ndarray of shape (n_rows,)
        The encoded target (class positions, or the standardised target).
    sample_weight : ndarray of shape (n_rows,)
        Row weights, of any positive scale: divided here by the mean weight of the training
        rows of every process (the validation weights by theirs).
    train_rows : ndarray of int
        Positions of the training rows.
    loss : Loss
        The loss object.
    config : TrainingConfig
        Learning rate, batch size, epochs and early-stopping settings.
    seed : int
        Seeds the network's initialisation, the batch order and dropout.
    device : str
        Where the network trains.
    validation : tuple of ndarray, default=None
        ``(index, value, target, weight)`` of the rows scored after every epoch.
    warm : tuple, default=None
        ``(module, optimizer)`` of a previous fit to continue (the optimizer may be None);
        a new network otherwise.
    first_epoch : int, default=1
        Number of the first epoch.
    group : LocalGroup or ProcessGroup, default=LOCAL
        The processes training together.

    Returns
    -------
    result : TrainingResult
        As :func:`train` returns it, with the trained ``module`` (in eval mode).

    Raises
    ------
    TrainingDivergedError
        When the training loss becomes NaN or infinite.
    ValueError
        When a process has no training rows or the training weights sum to zero.
    """
    with torch_context(training=True):
        return _fit_network(module_params, index, value, target, sample_weight, train_rows,
                            loss, config, seed, device, validation, warm, first_epoch, group)


def _fit_network(module_params, index, value, target, sample_weight, train_rows, loss, config,
                 seed, device, validation, warm, first_epoch, group):
    weight, validation = _normalised_weights(sample_weight, train_rows, validation, group)
    try:
        # All rows, the training ones picked by position: no second copy of the data.
        train_data = to_tensor_data(index, value, target, weight, device=device,
                                    target_dtype=loss.target_dtype)
        if len(train_rows) < len(target):
            train_data.rows = torch.as_tensor(train_rows)
        validation_data = (to_tensor_data(*validation, device=device,
                                          target_dtype=loss.target_dtype)
                           if validation is not None else None)
    except torch.cuda.OutOfMemoryError as exc:
        raise torch.cuda.OutOfMemoryError(
            f"The encoded training data ({len(target)} rows x {index.shape[1]} fields) does "
            f"not fit in GPU memory ({exc}); train with device='cpu'."
        ) from exc
    if group.rank != 0:
        config = dataclasses.replace(config, verbose=0)  # one process reports

    init_seed, order_seed, dropout_seed = _fit_seeds(seed, group.rank)
    if warm is None:
        module = _new_network(module_params, train_data, torch.Generator().manual_seed(init_seed),
                              group).to(device)
        optimizer = None
    else:
        module, optimizer = _copy_of(*warm)
        if next(module.parameters()).device.type != torch.device(device).type:
            # a model loaded elsewhere, or a changed `device`: Adam starts anew there
            module, optimizer = module.to(device), None
    group.copy_parameters(module)  # every process starts from process 0's
    order = torch.Generator().manual_seed(order_seed)
    dropout = torch.Generator(device=torch.device(device)).manual_seed(dropout_seed)
    with module.dropout_generator(dropout):
        result = train(module, train_data, config, loss=loss, generator=order,
                       validation_data=validation_data, optimizer=optimizer,
                       first_epoch=first_epoch, group=group)
    result.module = module.eval()
    return result


def _fit_seeds(seed, rank):
    """Seeds of the initialisation (the same in every process: process 0's weights are
    copied to the others anyway), the batch order and dropout (one per process)."""
    init_seed = int(seed)
    order_seed, dropout_seed = np.random.SeedSequence([init_seed, rank]).generate_state(2)
    return init_seed, int(order_seed), int(dropout_seed)


def _copy_of(module, optimizer):
    """Deep copies of a warm network and its optimizer, the optimizer still stepping the
    copied network's parameters (its process group is shared, not copied)."""
    memo = {} if optimizer is None else {id(optimizer.group): optimizer.group}
    return copy.deepcopy((module, optimizer), memo)


def _normalised_weights(sample_weight, train_rows, validation, group):
    """``sample_weight`` over the mean weight of every process's training rows, and the
    validation weights over theirs.

    Each set is first divided by its own largest weight, so that no sum over- or underflows
    whatever the weights' scale, and scaled by its own mean, so that float32 holds the
    validation weights even when one training weight dwarfs them (the validation loss is a
    weighted mean: a common factor does not change it).
    """
    if group.min(len(train_rows)) == 0:  # checked in every process, so all stop
        raise ValueError(f"Process {group.rank}'s share of the training rows is empty; "
                         "every process of a distributed fit needs training rows.")
    factor = _mean_weight(sample_weight[train_rows], group)
    if factor is None:
        raise ValueError("The sample weights of the training rows sum to zero.")
    if validation is not None:
        valid_weight = np.asarray(validation[3], dtype=np.float64)
        valid_factor = _mean_weight(valid_weight, group)
        if valid_factor is None:
            raise ValueError("The sample weights of the validation rows sum to zero: early "
                             "stopping has nothing to score. Give them weight, or pass X_val.")
        validation = (*validation[:3], valid_weight / valid_factor)
    return np.asarray(sample_weight, dtype=np.float64) / factor, validation


def _mean_weight(weight, group):
    """The mean of ``weight`` over every process's rows, computed without over- or underflow
    (after a division by the largest weight); None when they sum to zero."""
    largest = _largest(weight, group)
    if largest is None:
        return None
    weight_sum, n_weights = group.sum(
        torch.tensor([(weight / largest).sum(), len(weight)], dtype=torch.float64)).tolist()
    return largest * (weight_sum / n_weights) if weight_sum > 0 else None


def target_moments(y, sample_weight, group=LOCAL):
    """The weighted sums :meth:`~skautoint._losses.RegressionLoss.fit_target` learns the
    target's scale from: total weight, mean, sum of squared deviations and their unit.

    Weights, target and deviations are divided by their largest magnitude (over every
    process) before they are summed, so that no sum over- or underflows whatever their
    scale (a target in units of 1e-20 or 1e200, weights of 1e300).
    """
    weight = sample_weight / (_largest(sample_weight, group) or 1.0)
    unit = _largest(np.abs(y), group) or 1.0
    total, weighted = group.sum(torch.tensor(
        [weight.sum(), (weight * (y / unit)).sum()], dtype=torch.float64)).tolist()
    mean = unit * (weighted / total) if total > 0 else 0.0
    deviation = y - mean
    deviation_unit = _largest(np.abs(deviation), group) or 1.0
    spread = float(group.sum(torch.tensor((weight * (deviation / deviation_unit) ** 2).sum(),
                                          dtype=torch.float64)))
    return total, mean, spread, deviation_unit


def _largest(values, group):
    """The largest of ``values`` over every process; None when it is not positive."""
    largest = group.max(float(np.max(values)) if len(values) else 0.0)
    return largest if largest > 0 else None


def _new_network(module_params, train_data, generator, group=LOCAL):
    """A new AutoIntNet drawn from ``generator`` whose table rows no training row uses
    (unseen-level codes, empty buckets) start at zero: "no information" is a better prior for
    them than random noise."""
    module = AutoIntNet(**module_params)
    module.reset_parameters(generator)
    used = torch.zeros(module.embedding.weight.shape[0], dtype=torch.bool)
    rows = train_data.rows if train_data.rows is not None else torch.arange(len(train_data))
    for chunk in rows.split(2**16):
        used[train_data.index[chunk.to(train_data.index.device)].flatten().cpu()] = True
    used = group.any(used)  # rows of any process's data
    with torch.no_grad():
        module.embedding.weight[~used] = 0.0
    return module
