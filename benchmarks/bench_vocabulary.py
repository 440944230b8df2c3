"""Training speed against vocabulary size: does a step's cost stay flat as the tables grow?

Not part of CI. Times the training loop alone, on integer codes already made, for embedding
tables of ``--small`` and ``--large`` levels in all (spread geometrically over 26 categorical
fields, Zipf-distributed codes, plus 13 continuous fields of one row each, as in Criteo):

* skautoint's loop (``skautoint._training._run_epoch``) with ``embedding_update="dense"``
  (torch's Adam over every row), ``"touched"`` (Adam over the rows of the batch) and
  ``"auto"`` (the estimator's default choice);
* the plain reference of ``speed_reference.py`` (one ``nn.Embedding`` per field, torch's
  Adam, a DataLoader).

Paper configuration: embedding 16, 3 layers, 2 heads of 16, batch 1024, Adam 1e-3. Each
measurement runs in a fresh process: ``--steps`` batches after 3 warm-up batches, median of
``--repeats``. Prints samples/s per table size and the large/small ratio (target: a drop of
less than 20%).

Run::

    .venv/bin/python benchmarks/bench_vocabulary.py                 # 100k vs 10M levels
    .venv/bin/python benchmarks/bench_vocabulary.py --steps 5 --repeats 1 --large 1000000
"""

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import speed_reference as reference
import torch
from bench_speed import (
    BATCH_SIZE,
    EMBEDDING_DIM,
    LEARNING_RATE,
    N_HEADS,
    N_LAYERS,
    vocabulary_sizes,
)

from skautoint._losses import BinaryLogLoss
from skautoint._network import AutoIntNet
from skautoint._optim import NetworkOptimizer, resolve_embedding_update
from skautoint._training import TensorData, _run_epoch

N_CONTINUOUS, N_CATEGORICAL, HEAD_WIDTH, WARM_UP = 13, 26, 16, 3


def make_codes(total_levels, n_rows, seed):
    """Zipf-distributed codes per categorical field, log-normal continuous values."""
    rng = np.random.default_rng(seed)
    sizes = vocabulary_sizes(total_levels, N_CATEGORICAL)
    codes = np.empty((n_rows, N_CATEGORICAL), dtype=np.int64)
    for j, k in enumerate(sizes):
        # inverse-CDF sampling of 1/rank**1.1 without a k-long probability vector per draw
        weights = np.cumsum(1.0 / np.arange(1, k + 1) ** 1.1)
        codes[:, j] = np.searchsorted(weights, rng.random(n_rows) * weights[-1])
    values = np.log1p(rng.lognormal(1.0, 1.5, (n_rows, N_CONTINUOUS))).astype(np.float32)
    target = (rng.random(n_rows) < 0.25).astype(np.int64)
    return codes, values, target, sizes


def _skautoint_loop(update, codes, values, target, sizes):
    """One epoch of skautoint's loop over the rows: the uniform lookup of one shared table."""
    offsets = np.concatenate([[N_CONTINUOUS], N_CONTINUOUS + np.cumsum(sizes)[:-1]])
    index = np.concatenate([np.broadcast_to(np.arange(N_CONTINUOUS), (len(codes), N_CONTINUOUS)),
                            codes + offsets], axis=1)
    value = np.concatenate([values, np.ones_like(codes, dtype=np.float32)], axis=1)
    data = TensorData(torch.from_numpy(index), torch.from_numpy(value),
                      torch.from_numpy(target), torch.ones(len(target)))
    module = AutoIntNet(int(N_CONTINUOUS + sizes.sum()), index.shape[1],
                        embedding_dim=EMBEDDING_DIM, n_layers=N_LAYERS, n_heads=N_HEADS,
                        attention_dim=HEAD_WIDTH)
    update = resolve_embedding_update(update, module)
    optimizer = NetworkOptimizer(module, update, LEARNING_RATE, 0.0, 0.0)
    generator = torch.Generator().manual_seed(0)
    warm, rest = data_slices(data)
    _run_epoch(module, warm, optimizer, BinaryLogLoss(), BATCH_SIZE, generator, 1)
    start = time.perf_counter()
    _run_epoch(module, rest, optimizer, BinaryLogLoss(), BATCH_SIZE, generator, 1)
    return time.perf_counter() - start


def data_slices(data):
    """The warm-up batches and the timed batches."""
    def part(rows):
        return TensorData(data.index[rows], data.value[rows], data.target[rows],
                          data.weight[rows])
    split = WARM_UP * BATCH_SIZE
    return part(slice(0, split)), part(slice(split, None))


def _reference_loop(codes, values, target, sizes):
    model = reference.ReferenceAutoInt(list(sizes), N_CONTINUOUS, embedding_dim=EMBEDDING_DIM,
                                       n_layers=N_LAYERS, n_heads=N_HEADS,
                                       attention_dim=HEAD_WIDTH)
    split = WARM_UP * BATCH_SIZE
    options = dict(epochs=1, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=0)
    reference.fit(model, codes[:split], values[:split], target[:split], **options)
    start = time.perf_counter()
    reference.fit(model, codes[split:], values[split:], target[split:], **options)
    return time.perf_counter() - start


def measure(implementation, total_levels, steps, threads, seed):
    """Samples/s of ``steps`` timed training batches, in this (fresh) process."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    n_rows = (WARM_UP + steps) * BATCH_SIZE
    codes, values, target, sizes = make_codes(total_levels, n_rows, seed)
    if implementation == "reference":
        seconds = _reference_loop(codes, values, target, sizes)
    else:
        update = implementation.removeprefix("skautoint ")
        seconds = _skautoint_loop(update, codes, values, target, sizes)
    return steps * BATCH_SIZE / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0))
                        if hasattr(os, "sched_getaffinity") else os.cpu_count())
    args = parser.parse_args()

    implementations = ["skautoint auto", "skautoint dense", "skautoint touched", "reference"]
    context = multiprocessing.get_context("spawn")
    records = []
    for repeat in range(args.repeats):
        for implementation in implementations:
            for levels in (args.small, args.large):
                with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                    speed = pool.submit(measure, implementation, levels, args.steps,
                                        args.threads, repeat).result()
                records.append({"implementation": implementation, "levels": levels,
                                "samples/s": speed})
                print(f"{implementation:18} {levels:>11,} levels  {speed:9,.0f} samples/s",
                      flush=True)
    table = (pd.DataFrame(records).groupby(["implementation", "levels"], sort=False)
             ["samples/s"].median().unstack("levels"))
    table.columns = [f"{c:,} levels" for c in table.columns]
    table["large / small"] = table.iloc[:, 1] / table.iloc[:, 0]
    print(f"\nTraining samples/s, median of {args.repeats} ({args.steps} batches of "
          f"{BATCH_SIZE}, {args.threads} threads, paper configuration: 39 fields, 16 per head)")
    print(table.to_markdown(floatfmt=",.2f"))


if __name__ == "__main__":
    main()
