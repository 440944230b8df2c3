"""Peak memory and fit time of AutoIntClassifier against the number of rows (200k, 1M, 10M).

Not part of CI. For each size, a child process generates Criteo-shaped rows (the data of
``bench_speed.py``: 13 counts, 26 string columns, 100k levels in all) and writes them to
Parquet; a fresh process then reads them (pandas' Arrow-backed strings) and fits skautoint in
the paper configuration (all 39 fields in the attention, 16 per head, batch 1024, one epoch,
no early stopping). It reports the resident memory after reading the data, the peak during
``fit`` and the difference (what the fit itself adds), the encoding seconds and the training
loop's samples/s.

``--loop-seconds`` bounds the training loop: after that many seconds of training a
``KeyboardInterrupt`` ends the fit the way Ctrl-C does, and the loop's speed is the batches
done over the seconds they took; the fit time of the whole epoch is then
``encode s + rows / loop speed`` (marked "extrapolated"). The peak memory is reached before
the first batch (the encoded arrays and the optimizer state exist by then).

Run::

    .venv/bin/python benchmarks/bench_memory.py                          # 200k, 1M, 10M
    .venv/bin/python benchmarks/bench_memory.py --rows 10000000 --loop-seconds 120
"""

import argparse
import multiprocessing
import os
import resource
import signal
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet
import torch
from bench_speed import BATCH_SIZE, EMBEDDING_DIM, LEARNING_RATE, N_HEADS, N_LAYERS, make_data
from sklearn.frozen import FrozenEstimator

from skautoint import AutoIntClassifier, make_field_transformer
from skautoint._network import AutoIntNet
from skautoint.out_of_core import iter_parquet_chunks, sample_parquet


def _rss_mib(which=resource.RUSAGE_SELF):
    return resource.getrusage(which).ru_maxrss / 2**10  # KiB on Linux


def _current_rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_data(n_rows, vocab, seed, path):
    """Generate the rows and write them to Parquet (in a child: its memory is not counted)."""
    data = make_data(n_rows, vocab, seed)
    frame = data["X_train"].assign(label=data["y_train"])
    frame.to_parquet(path, row_group_size=250_000)
    return len(frame)


def _classifier():
    return AutoIntClassifier(
        embedding_dim=EMBEDDING_DIM, n_layers=N_LAYERS, n_heads=N_HEADS, attention_dim=16,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, max_epochs=1,
        early_stopping=False, continuous="embed", random_state=0, field_pair_bias="none",
    )


def fit_out_of_core(path, threads, loop_seconds, chunk_rows):
    """Train chunk by chunk from the Parquet file without reading it whole; in a fresh
    process. Stops after the first chunk that ends past ``loop_seconds`` of training."""
    torch.set_num_threads(threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    base_rss = _current_rss_mib()
    clf = _classifier()
    start = time.perf_counter()
    X_sample, _ = sample_parquet(path, 100_000, target="label", random_state=0)
    clf.set_params(field_transformer=FrozenEstimator(make_field_transformer(
        continuous="embed").fit(X_sample)))
    del X_sample
    encode_s, rows, loop_start = time.perf_counter() - start, 0, time.perf_counter()
    for X, y in iter_parquet_chunks(path, target="label", chunk_rows=chunk_rows):
        clf.partial_fit(X, y, classes=[0, 1])
        rows += len(y)
        del X, y
        print(f"  {rows:>11,} rows: resident {_current_rss_mib():,.0f} MiB, "
              f"peak {_rss_mib():,.0f} MiB", flush=True)
        if loop_seconds and time.perf_counter() - loop_start > loop_seconds:
            break
    total = pyarrow.parquet.ParquetFile(path).metadata.num_rows
    loop_speed = rows / (time.perf_counter() - loop_start)
    return {"rows": total, "data RSS MiB": base_rss, "peak RSS MiB": _rss_mib(),
            "encode s": encode_s, "loop samples/s": loop_speed,
            "fit s": encode_s + total / loop_speed,
            "fit": "extrapolated" if rows < total else "measured",
            "table rows": clf.field_spec_.table_rows, "embedding update": clf.embedding_update_}


def fit(path, threads, loop_seconds):
    """Read the rows and fit; in a fresh process."""
    torch.set_num_threads(threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # torch's one-time imports
    frame = pd.read_parquet(path)
    y = frame.pop("label").to_numpy()
    data_rss = _current_rss_mib()

    clock = {"batches": 0, "start": None}
    forward = AutoIntNet.forward

    def counted(module, *args, **kwargs):  # counts training batches, starts the alarm
        if module.training:
            if clock["start"] is None:
                clock["start"] = time.perf_counter()
                if loop_seconds:
                    signal.alarm(loop_seconds)
            clock["batches"] += 1
        return forward(module, *args, **kwargs)

    def interrupt(*_):
        clock["end"] = time.perf_counter()
        raise KeyboardInterrupt

    AutoIntNet.forward = counted
    signal.signal(signal.SIGALRM, interrupt)
    clf = _classifier()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the interrupted fit's warning
        clf.fit(frame, y)
    end = clock.get("end", time.perf_counter())
    signal.alarm(0)
    encode_s = clock["start"] - start
    # the interrupted batch is not counted; a completed epoch counts all its batches
    batches = clock["batches"] - (1 if "end" in clock else 0)
    loop_speed = min(batches * BATCH_SIZE, len(y)) / (end - clock["start"])
    return {"rows": len(y), "data RSS MiB": data_rss, "peak RSS MiB": _rss_mib(),
            "encode s": encode_s, "loop samples/s": loop_speed,
            "fit s": encode_s + len(y) / loop_speed,
            "fit": "extrapolated" if "end" in clock else "measured",
            "table rows": clf.field_spec_.table_rows, "embedding update": clf.embedding_update_}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+",
                        default=[200_000, 1_000_000, 10_000_000])
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--loop-seconds", type=int, default=300,
                        help="stop each training loop after this many seconds (0: never)")
    parser.add_argument("--out-of-core", action="store_true",
                        help="train chunk by chunk from the Parquet file (partial_fit)")
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    records = []
    with tempfile.TemporaryDirectory() as folder:
        for n_rows in args.rows:
            path = Path(folder) / f"rows_{n_rows}.parquet"
            # make_data keeps the first 80% as training rows: ask for 1.25x
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                pool.submit(write_data, int(n_rows / 0.8), args.vocab, 0, path).result()
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                if args.out_of_core:
                    job = pool.submit(fit_out_of_core, path, args.threads, args.loop_seconds,
                                      args.chunk_rows)
                else:
                    job = pool.submit(fit, path, args.threads, args.loop_seconds)
                record = job.result()
            record["fit RSS MiB"] = record["peak RSS MiB"] - record["data RSS MiB"]
            record["fit us/row"] = record["fit s"] / record["rows"] * 1e6
            records.append(record)
            print(record, flush=True)
            path.unlink()
    table = pd.DataFrame(records)
    how = (f"partial_fit over chunks of {args.chunk_rows:,} rows" if args.out_of_core
           else "fit in memory")
    print(f"\nAutoIntClassifier {how}, paper configuration, one epoch, {args.threads} threads, "
          f"torch {torch.__version__}")
    print(table.to_markdown(index=False, floatfmt=",.1f"))


if __name__ == "__main__":
    main()
