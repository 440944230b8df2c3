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
import torch
from bench_speed import BATCH_SIZE, EMBEDDING_DIM, LEARNING_RATE, N_HEADS, N_LAYERS, make_data

from skautoint import AutoIntClassifier
from skautoint._network import AutoIntNet


def _rss_mib(which=resource.RUSAGE_SELF):
    return resource.getrusage(which).ru_maxrss / 2**10  # KiB on Linux


def _current_rss_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_data(n_rows, vocab, seed, path):
    """Generate the rows and write them to Parquet (in a child: its memory is not counted)."""
    data = make_data(n_rows, vocab, seed)
    frame = data["X_train"].assign(label=data["y_train"])
    frame.to_parquet(path)
    return len(frame)


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
    clf = AutoIntClassifier(
        embedding_dim=EMBEDDING_DIM, n_layers=N_LAYERS, n_heads=N_HEADS, attention_dim=16,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, max_epochs=1,
        early_stopping=False, continuous="embed", random_state=0,
    )
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
            "table rows": clf.field_spec_.n_rows, "embedding update": clf.embedding_update_}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+",
                        default=[200_000, 1_000_000, 10_000_000])
    parser.add_argument("--vocab", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--loop-seconds", type=int, default=300,
                        help="stop each training loop after this many seconds (0: never)")
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
                record = pool.submit(fit, path, args.threads, args.loop_seconds).result()
            record["fit RSS MiB"] = record["peak RSS MiB"] - record["data RSS MiB"]
            record["fit us/row"] = record["fit s"] / record["rows"] * 1e6
            records.append(record)
            print(record, flush=True)
            path.unlink()
    table = pd.DataFrame(records)
    print(f"\nAutoIntClassifier fit, paper configuration, one epoch, {args.threads} threads, "
          f"torch {torch.__version__}")
    print(table.to_markdown(index=False, floatfmt=",.1f"))


if __name__ == "__main__":
    main()
