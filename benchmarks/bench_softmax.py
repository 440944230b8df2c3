"""The attention's softmax over fields: skautoint's ``softmax_last`` against ``torch.softmax``.

Not part of CI. Times forward plus backward of the softmax over the last axis of attention
scores shaped like a training step's, ``(batch, heads, fields, fields)``, for a range of field
counts, in float32 and in bfloat16 (the dtype of the scores under ``precision="bfloat16"``).
Medians of ``--repeats`` timings of ``--steps`` calls each, after warm-up. Prints milliseconds
per call and torch / skautoint, the speed-up (above 1 means ``softmax_last`` is faster).

Run::

    .venv/bin/python benchmarks/bench_softmax.py
    .venv/bin/python benchmarks/bench_softmax.py --fields 8 14 39 --threads 1
"""

import argparse
import statistics
import time

import pandas as pd
import torch

from skautoint._softmax import softmax_last


def time_forward_backward(function, scores, grad, steps, repeats):
    """Median seconds of one forward and backward of ``function`` on ``scores``."""
    leaf = scores.clone().requires_grad_()

    def call():
        leaf.grad = None
        function(leaf).backward(grad)

    for _ in range(5):
        call()
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            call()
        timings.append((time.perf_counter() - start) / steps)
    return statistics.median(timings)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, nargs="+",
                        default=[4, 8, 10, 14, 16, 20, 22, 26, 32, 39])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for n_fields in args.fields:
        shape = (args.batch, args.heads, n_fields, n_fields)
        scores = torch.randn(shape, generator=generator)
        grad = torch.randn(shape, generator=generator)
        for dtype in (torch.float32, torch.bfloat16):
            timed = {
                name: time_forward_backward(function, scores.to(dtype), grad.to(dtype),
                                            args.steps, args.repeats)
                for name, function in (("torch", lambda x: torch.softmax(x, dim=-1)),
                                       ("skautoint", softmax_last))
            }
            rows.append({"fields": n_fields, "dtype": str(dtype).removeprefix("torch."),
                         "torch ms": 1e3 * timed["torch"],
                         "skautoint ms": 1e3 * timed["skautoint"],
                         "torch / skautoint": timed["torch"] / timed["skautoint"]})
    print(f"Softmax forward + backward over the last axis, scores ({args.batch}, {args.heads}, "
          f"fields, fields), {args.threads} threads, median of {args.repeats}x{args.steps} calls")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
