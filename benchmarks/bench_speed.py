"""Speed benchmark: skautoint's AutoInt against a plain PyTorch AutoInt and DeepCTR-Torch.

Not part of CI. One run generates Criteo-shaped synthetic data (13 heavy-tailed counts with
missing values, 26 string columns with Zipf-distributed levels, a label with planted pairwise
interactions; the last 20% of the rows are the test rows) and trains every implementation at
the same settings: embedding 16, 3 interacting layers, 2 heads, batch 1024, Adam with learning
rate 1e-3, ``--epochs`` epochs, no early stopping, no DNN branch. Two configurations:

* ``paper``: all 39 fields in the attention, 16 per head (skautoint with
  ``continuous="embed"``, and the plain reference of ``speed_reference.py``);
  pytorch-tabular's AutoInt runs in this configuration too when ``--pytorch-tabular`` names
  the Python of a venv that has it;
* ``deepctr``: DeepCTR-Torch's own layout, only the 26 categorical fields in the attention and
  8 per head (embedding size / heads); skautoint and the reference see the 26 categorical
  columns only, DeepCTR-Torch gets all 39 and keeps the 13 numbers outside the attention.

Every fit runs in a fresh spawned process and is repeated ``--repeats`` times; the table shows
medians of: training samples per second (training rows x epochs / fit wall time), prediction
rows per second, peak resident memory of the process, and test ROC AUC. The run also measures
float32 GEMM speed and, from an analytic count of the network's FLOPs, a roofline: the samples
per second the GEMM speed would allow if training did nothing but those FLOPs.

Run (needs the ``bench`` extra for DeepCTR-Torch and tabulate)::

    .venv/bin/python benchmarks/bench_speed.py                  # 200,000 rows, 3 repeats
    .venv/bin/python benchmarks/bench_speed.py --rows 1000000 --threads 4
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_speed.py --smoke --threads 1
    .venv/bin/python benchmarks/bench_speed.py --multi-valued --rows 100000

``--multi-valued`` measures instead what a multi-valued field costs: skautoint's training
throughput on the 26 categorical columns alone, with one more plain categorical column, and
with one more column of lists (mean length 10, geometric lengths, Zipf levels over 1,000).
"""

import argparse
import functools
import json
import multiprocessing
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import speed_reference as reference
import torch
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier
from skautoint._training import (
    PREDICT_BATCH_SIZE,  # the others predict in batches as large
    has_amx,
)
from skautoint.exceptions import TruncatedCellsWarning

CONTINUOUS = [f"I{i}" for i in range(1, 14)]
CATEGORICAL = [f"C{i}" for i in range(1, 27)]
EMBEDDING_DIM, N_LAYERS, N_HEADS = 16, 3, 2
BATCH_SIZE, LEARNING_RATE = 1024, 1e-3
# deepctr_torch/layers/interaction.py: InteractingLayer's att_embedding_size is
# embedding_size // head_num, and only the sparse fields' embeddings enter the attention.
DEEPCTR_HEAD_WIDTH = EMBEDDING_DIM // N_HEADS


@dataclass(frozen=True)
class Config:
    """Columns skautoint and the reference train on, and their attention width per head."""

    name: str
    columns: tuple
    head_width: int
    implementations: tuple


CONFIGS = (
    Config("paper", tuple(CONTINUOUS + CATEGORICAL), 16,
           ("skautoint", "skautoint float32", "skautoint bfloat16", "reference",
            "pytorch-tabular")),
    Config("deepctr", tuple(CATEGORICAL), DEEPCTR_HEAD_WIDTH,
           ("skautoint", "skautoint float32", "skautoint bfloat16", "reference",
            "DeepCTR-Torch")),
)
CONFIG_BY_NAME = {config.name: config for config in CONFIGS}


# --------------------------------------------------------------------------------------------- data
def vocabulary_sizes(total, n_columns=26):
    """Geometrically spread level counts, from about 10 up, that sum to about ``total``."""
    smallest = min(10, total // n_columns)
    if smallest < 2:
        raise ValueError(f"--vocab must be at least {2 * n_columns}, got {total}.")

    def excess(largest):
        return np.geomspace(smallest, largest, n_columns).round().sum() - total

    largest = brentq(excess, smallest, total)
    return np.geomspace(smallest, largest, n_columns).round().astype(int)


def _level_names(n_levels, salt):
    """Distinct 8-digit hexadecimal names, like Criteo's hashed categories."""
    offset = (salt << 20) + 1
    ids = (np.arange(offset, offset + n_levels, dtype=np.uint64) * np.uint64(2654435761)) \
        % np.uint64(2**32)  # an odd multiplier permutes the integers modulo 2**32
    return np.array([f"{i:08x}" for i in ids.tolist()])


def _zipf_codes(rng, n_levels, n_rows, exponent=1.1):
    """Level codes whose frequencies fall like ``1 / rank**exponent``."""
    weights = 1.0 / np.arange(1, n_levels + 1) ** exponent
    return rng.choice(n_levels, size=n_rows, p=weights / weights.sum())


def _planted_logits(rng, codes, sizes, counts):
    """Main effects of 4 categorical and 2 continuous columns, 3 categorical x categorical
    interactions (random per-level-pair tables) and 1 categorical x bucketized continuous."""
    logits = np.zeros(len(codes))
    for j in rng.choice(len(sizes), size=4, replace=False):
        logits += rng.normal(0.0, 0.5, sizes[j])[codes[:, j]]
    scaled = np.nan_to_num(np.log1p(counts[:, :2]))
    scaled = (scaled - scaled.mean(axis=0)) / scaled.std(axis=0)
    logits += 0.4 * scaled[:, 0] - 0.3 * scaled[:, 1]
    # The pairs come from the smallest vocabularies: their level pairs recur often enough to learn.
    order = np.argsort(sizes, kind="stable")
    for a, b in order[:6].reshape(3, 2):
        logits += rng.normal(0.0, 0.8, (sizes[a], sizes[b]))[codes[:, a], codes[:, b]]
    column, value = order[6], counts[:, 2]
    edges = np.nanquantile(value, np.linspace(0, 1, 9)[1:-1])
    bucket = np.where(np.isnan(value), 8, np.searchsorted(edges, value, side="right"))
    logits += rng.normal(0.0, 0.8, (sizes[column], 9))[codes[:, column], bucket]
    return logits


def make_data(n_rows, total_levels, seed, base_rate=0.25):
    """Criteo-shaped rows and a planted label, split into the first 80% and the last 20%.

    Returns a dict with ``X_train``, ``y_train``, ``X_test``, ``y_test`` and ``oracle_auc``
    (the test ROC AUC of the true probabilities: the best any model can do).
    """
    rng = np.random.default_rng(seed)
    counts = np.floor(rng.lognormal(rng.uniform(0, 3, len(CONTINUOUS)),
                                    rng.uniform(0.8, 2.0, len(CONTINUOUS)),
                                    size=(n_rows, len(CONTINUOUS))))
    counts[rng.random(counts.shape) < 0.1] = np.nan
    sizes = rng.permutation(vocabulary_sizes(total_levels))
    codes = np.column_stack([_zipf_codes(rng, k, n_rows) for k in sizes])
    logits = _planted_logits(rng, codes, sizes, counts)
    intercept = brentq(lambda b: expit(logits + b).mean() - base_rate, -50, 50)
    probability = expit(logits + intercept)
    y = (rng.random(n_rows) < probability).astype(np.int64)

    X = pd.DataFrame(counts, columns=CONTINUOUS)
    for j, column in enumerate(CATEGORICAL):
        X[column] = pd.array(_level_names(sizes[j], salt=j)[codes[:, j]], dtype="string")
    split = int(0.8 * n_rows)
    return {"X_train": X.iloc[:split].reset_index(drop=True), "y_train": y[:split],
            "X_test": X.iloc[split:].reset_index(drop=True), "y_test": y[split:],
            "oracle_auc": roc_auc_score(y[split:], probability[split:])}


# ---------------------------------------------------------------------------------- implementations
def _timed(function, *args):
    """``function(*args)`` and its wall-clock seconds."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def run_skautoint(data, config, seed, epochs, precision="auto"):
    """Fit on the DataFrame, so the fit time includes skautoint's own encoding.

    ``precision="auto"`` is the default (bfloat16 steps on CPUs with AMX when the steps are
    large enough; both configurations here have layers too narrow for it); the rows
    "skautoint float32" (the default before it) and "skautoint bfloat16" force each.
    """
    columns = list(config.columns)
    X_train, X_test = data["X_train"][columns], data["X_test"][columns]
    clf = AutoIntClassifier(
        embedding_dim=EMBEDDING_DIM, n_layers=N_LAYERS, n_heads=N_HEADS,
        attention_dim=config.head_width, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
        max_epochs=epochs, early_stopping=False, embedding_weight_decay=0.0,
        continuous="embed", precision=precision, random_state=seed,
        field_pair_bias="none",  # the references' layer, so the work is equal
    )
    _, fit_s = _timed(clf.fit, X_train, data["y_train"])
    loop_s = sum(record["seconds"] for record in clf.history_)
    proba, predict_s = _timed(clf.predict_proba, X_test)
    return {"encode s": fit_s - loop_s, "fit s": fit_s, "loop s": loop_s,
            "predict s": predict_s, "proba": proba[:, 1]}


def run_reference(data, config, seed, epochs):
    """Encode first (timed apart), then train and predict on the codes."""
    categorical = [c for c in config.columns if c in CATEGORICAL]
    continuous = [c for c in config.columns if c in CONTINUOUS]
    # The encoding time is reported as "encode s" but not counted in the training time: the
    # reference, like most hand-written models, takes integer codes prepared beforehand.
    (train, test, cardinalities), encode_s = _timed(
        reference.encode, data["X_train"], data["X_test"], categorical, continuous
    )

    def fit():
        torch.manual_seed(seed)
        model = reference.ReferenceAutoInt(
            cardinalities, len(continuous), embedding_dim=EMBEDDING_DIM, n_layers=N_LAYERS,
            n_heads=N_HEADS, attention_dim=config.head_width,
        )
        return reference.fit(model, *train, data["y_train"], epochs=epochs,
                             batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=seed)

    model, fit_s = _timed(fit)
    proba, predict_s = _timed(reference.predict_proba, model, *test, PREDICT_BATCH_SIZE)
    return {"encode s": encode_s, "fit s": fit_s, "predict s": predict_s, "proba": proba}


def run_deepctr(data, config, seed, epochs):
    """DeepCTR-Torch's AutoInt with no DNN: 26 SparseFeat in the attention, 13 DenseFeat.

    Inputs are encoded as for the reference (timed apart, not counted in the training time).
    ``config`` is ignored: DeepCTR-Torch always runs its own layout on all 39 columns.
    """
    from deepctr_torch.inputs import DenseFeat, SparseFeat
    from deepctr_torch.models import AutoInt

    (train, test, cardinalities), encode_s = _timed(
        reference.encode, data["X_train"], data["X_test"], CATEGORICAL, CONTINUOUS
    )
    features = ([SparseFeat(c, vocabulary_size=k, embedding_dim=EMBEDDING_DIM)
                 for c, k in zip(CATEGORICAL, cardinalities, strict=True)]
                + [DenseFeat(c, 1) for c in CONTINUOUS])

    def inputs(codes, values):
        return {**{c: codes[:, j] for j, c in enumerate(CATEGORICAL)},
                **{c: values[:, j] for j, c in enumerate(CONTINUOUS)}}

    def fit():
        # Its AutoInt always adds a first-order linear part; the dense features feed only that
        # part once the DNN is off. l2_reg_embedding=0 matches embedding_weight_decay=0.
        model = AutoInt(features, features, att_layer_num=N_LAYERS, att_head_num=N_HEADS,
                        att_res=True, dnn_hidden_units=(), l2_reg_embedding=0.0,
                        task="binary", device="cpu", seed=seed)
        model.compile(torch.optim.Adam(model.parameters(), lr=LEARNING_RATE),
                      "binary_crossentropy")
        model.fit(inputs(*train), data["y_train"].astype(np.float32), batch_size=BATCH_SIZE,
                  epochs=epochs, verbose=0)
        return model

    model, fit_s = _timed(fit)
    proba, predict_s = _timed(model.predict, inputs(*test), PREDICT_BATCH_SIZE)
    return {"encode s": encode_s, "fit s": fit_s, "predict s": predict_s,
            "proba": proba[:, 0]}


def run_pytorch_tabular(data, config, seed, epochs):
    """pytorch-tabular's AutoInt in its own venv (``speed_pytorch_tabular.py``), on the
    reference's codes; its fit time includes its own preprocessing and Lightning set-up.

    ``config`` is ignored: it runs the paper configuration (all 39 fields, 16 per head).
    """
    (train, test, _), encode_s = _timed(
        reference.encode, data["X_train"], data["X_test"], CATEGORICAL, CONTINUOUS
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.npz"
        np.savez(path, train_codes=train[0], train_values=train[1], y_train=data["y_train"],
                 test_codes=test[0], test_values=test[1])
        script = Path(__file__).with_name("speed_pytorch_tabular.py")
        completed = subprocess.run(
            [os.environ[PYTORCH_TABULAR_PYTHON], str(script), str(path), str(seed), str(epochs),
             str(torch.get_num_threads())],
            capture_output=True, text=True, check=True, cwd=folder,  # it writes logs there
        )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return {"encode s": encode_s, "fit s": result["fit s"], "predict s": result["predict s"],
            "proba": np.asarray(result["proba"])}


#: Environment variable naming the Python of pytorch-tabular's venv (set by --pytorch-tabular).
PYTORCH_TABULAR_PYTHON = "BENCH_PYTORCH_TABULAR_PYTHON"
RUNNERS = {"skautoint": run_skautoint,
           "skautoint float32": functools.partial(run_skautoint, precision="float32"),
           "skautoint bfloat16": functools.partial(run_skautoint, precision="bfloat16"),
           "reference": run_reference,
           "DeepCTR-Torch": run_deepctr, "pytorch-tabular": run_pytorch_tabular}


# -------------------------------------------------------------------------------------- measurement
def _peak_rss_mib():
    """This process's peak resident set size in MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def measure(implementation, config_name, data_path, seed, epochs, threads):
    """Fit, time and score one implementation; meant to run in a fresh process.

    The process's standard output is discarded (DeepCTR-Torch prints a version check, the
    device and a summary). Torch's one-time start-up, the import of ``torch._dynamo`` by the
    first optimizer (seconds), happens before any timing.
    """
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of this process)
    torch.set_num_threads(threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    data = pd.read_pickle(data_path)
    after_load = _peak_rss_mib()
    result = RUNNERS[implementation](data, CONFIG_BY_NAME[config_name], seed, epochs)
    peak = _peak_rss_mib()
    if implementation == "pytorch-tabular":  # it ran in a child process: that one's peak
        peak, after_load = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10, np.nan
    positive = result.pop("proba")
    return {**result, "test AUC": roc_auc_score(data["y_test"], positive),
            "peak RSS MiB": peak, "model RSS MiB": peak - after_load}


def in_fresh_process(function, *args):
    """``function(*args)`` run in a newly spawned Python process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def gemm_gflops(threads, repeats, size=2048, dtype=torch.float32):
    """``torch.mm`` speed of two ``size x size`` matrices of ``dtype`` (median of ``repeats``)."""
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    torch.mm(a, b)  # warm-up
    seconds = [_timed(torch.mm, a, b)[1] for _ in range(repeats)]
    return 2 * size**3 / np.median(seconds) / 1e9


def train_flops_per_sample(n_fields, head_width):
    """Forward + backward FLOPs of one training row (backward = 2 x forward).

    Per layer: the W_Q, W_K, W_V and W_res projections, ``2 * F * d_in * 4 * H * d'``, and the
    attention scores and mixing, ``2 * 2 * H * F**2 * d'``; then the output layer,
    ``2 * F * H * d'``. Embedding lookups, softmax and ReLU count as free.
    """
    width, input_dim, forward = N_HEADS * head_width, EMBEDDING_DIM, 0
    for _ in range(N_LAYERS):
        forward += 2 * n_fields * input_dim * 4 * width
        forward += 2 * 2 * N_HEADS * n_fields**2 * head_width
        input_dim = width
    forward += 2 * n_fields * width
    return 3 * forward


def attention_layout(config, implementation):
    """Fields in the attention and width per head of ``implementation`` in ``config``."""
    if implementation == "DeepCTR-Torch":
        return len(CATEGORICAL), DEEPCTR_HEAD_WIDTH
    if implementation == "pytorch-tabular":
        return len(CONTINUOUS) + len(CATEGORICAL), 16
    return len(config.columns), config.head_width


# ------------------------------------------------------------------------------------------- report
def _formatted(frame, formats):
    """Columns as strings in the given formats, missing values as a dash."""
    return frame.assign(**{column: [("-" if pd.isna(v) else fmt.format(v))
                                    for v in frame[column]]
                           for column, fmt in formats.items()})


def results_table(records, n_train, n_test, epochs):
    """Medians over the repeats, one row per configuration and implementation."""
    frame = pd.DataFrame(records)
    frame["train samples/s"] = n_train * epochs / frame["fit s"]
    frame["loop samples/s"] = n_train * epochs / frame["loop s"]
    frame["predict rows/s"] = n_test / frame["predict s"]
    keys = ["config", "implementation", "attention fields", "head width"]
    columns = ["encode s", "train samples/s", "loop samples/s", "predict rows/s",
               "peak RSS MiB", "model RSS MiB", "test AUC"]
    return frame.groupby(keys, sort=False)[columns].median().reset_index()


PEERS = ("skautoint float32", "skautoint bfloat16", "reference", "DeepCTR-Torch",
         "pytorch-tabular")


def ratios_table(table, what="train samples/s"):
    """Per configuration: skautoint's ``what`` (a speed column) over each peer's."""
    rows = []
    for config in CONFIGS:
        speed = table[table["config"] == config.name].set_index("implementation")
        if "skautoint" in speed.index:
            rows.append({"config": config.name, **{
                f"skautoint / {peer}": (speed.loc["skautoint", what] / speed.loc[peer, what]
                                        if peer in speed.index else np.nan)
                for peer in PEERS}})
    return pd.DataFrame(rows)


def roofline_table(table, gflops):
    """Per configuration and precision: the samples per second the GEMM rate would allow
    (analytic FLOPs per sample), and the share of it skautoint's training reaches."""
    rows = []
    for config in CONFIGS:
        speed = table[table["config"] == config.name].set_index("implementation")
        fields, width = attention_layout(config, "skautoint")
        flops = train_flops_per_sample(fields, width)
        for name, implementation in (("float32", "skautoint float32"),
                                     ("bfloat16", "skautoint bfloat16")):
            if implementation not in speed.index or name not in gflops:
                continue
            roofline = gflops[name] * 1e9 / flops
            measured = speed.loc[implementation]
            rows.append({
                "config": config.name, "precision": name, "implementation": implementation,
                "train MFLOP/sample": flops / 1e6, "GEMM GFLOP/s": gflops[name],
                "roofline samples/s": roofline,
                "fit / roofline": measured["train samples/s"] / roofline,
                "loop / roofline": measured["loop samples/s"] / roofline,
            })
    return pd.DataFrame(rows)


def command_line():
    """The command as typed, with the thread variables that were set."""
    env = [f"{name}={os.environ[name]}" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
           if name in os.environ]
    return " ".join([*env, *map(shlex.quote, [sys.executable, *sys.argv])])


NOTES = f"""\
Notes:
- skautoint is fitted on the DataFrame, so its "train samples/s" includes its encoding;
  its "encode s" is the fit time minus the training loop (encoding, tensors, set-up), and
  "loop samples/s" is the loop alone (the seconds in clf.history_). Its predict time includes
  encoding the test frame.
- reference and DeepCTR-Torch get integer codes made beforehand (pandas factorize on the
  training rows, unseen -> 0; log1p of the counts, missing -> 0). That step is their
  "encode s" and is not counted in their train or predict speeds.
- DeepCTR-Torch (deepctr_torch/models/autoint.py and layers/interaction.py): InteractingLayer
  splits the embedding into heads, att_embedding_size = embedding_size // head_num
  = {DEEPCTR_HEAD_WIDTH} per head (layer width {EMBEDDING_DIM}); only the sparse fields' embeddings
  ({len(CATEGORICAL)}) are concatenated into the attention input. With the DNN off, the dense
  features ({len(CONTINUOUS)}) reach only its first-order linear part, which its AutoInt always
  adds. Its loss is summed over the batch (Adam hardly minds the scale); l2_reg_embedding=0.
- pytorch-tabular 1.2 (paper configuration only: it puts every column in the attention;
  attn_embed_dim 32 = 2 heads of 16, 3 blocks with residuals, no deep layers, no batch norm)
  runs in its own venv (it needs pandas < 3) on the reference's codes; its fit time includes
  its own preprocessing, Lightning's set-up and a 1,024-row validation pass it requires, and
  its peak RSS is that of its process.
- Each fit is the first in a fresh process (torch's one-time optimizer import excluded).
  Prediction batch {PREDICT_BATCH_SIZE} for all. Peak RSS: ru_maxrss of that process (Python,
  torch and the loaded data included); model RSS: that peak minus the peak after loading.
- Roofline: GEMM GFLOP/s / analytic training FLOPs per sample, in float32 (for the
  "skautoint float32" row) and in bfloat16 (for the "skautoint bfloat16" row). Forward, per layer:
  2*F*d_in*4*H*d' for W_Q, W_K, W_V and W_res, 2*2*H*F^2*d' for the attention scores and
  mixing; then 2*F*H*d' for the output layer; backward = 2 x forward; lookups free.
"""


def _extra_columns(n_rows, seed, n_levels=1_000, mean_length=10):
    """A plain categorical column and a column of lists over the same Zipf levels."""
    rng = np.random.default_rng(seed + 1)
    names = _level_names(n_levels, salt=99)
    plain = pd.array(names[_zipf_codes(rng, n_levels, n_rows)], dtype="string")
    lengths = rng.geometric(1 / mean_length, size=n_rows)
    flat = names[_zipf_codes(rng, n_levels, int(lengths.sum()))]
    bags = np.split(flat, np.cumsum(lengths)[:-1])
    return plain, [list(bag) for bag in bags], lengths


def multi_valued_speed(args):
    """Print train throughput with no extra field, a plain one and a multi-valued one."""
    data = make_data(args.rows, args.vocab, args.seed)
    n_train = len(data["y_train"])
    plain, bags, lengths = _extra_columns(args.rows, args.seed)
    base = data["X_train"][CATEGORICAL]
    frames = {"26 categorical fields": base,
              "+ 1 categorical field": base.assign(extra=plain[:n_train]),
              "+ 1 multi-valued field": base.assign(extra=pd.Series(bags[:n_train],
                                                                     dtype=object))}
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():  # warm-up: torch's one-time set-up is nobody's cost
        warnings.simplefilter("ignore")
        AutoIntClassifier(max_epochs=1, early_stopping=False).fit(base.iloc[:2000],
                                                                  data["y_train"][:2000])
    rows = []
    for name, X in frames.items():
        fits, loops = [], []
        for repeat in range(args.repeats):
            clf = AutoIntClassifier(
                embedding_dim=EMBEDDING_DIM, n_layers=N_LAYERS, n_heads=N_HEADS,
                batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, max_epochs=args.epochs,
                early_stopping=False, embedding_weight_decay=0.0, random_state=repeat,
                field_pair_bias="none")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TruncatedCellsWarning)
                _, fit_s = _timed(clf.fit, X, data["y_train"])
            fits.append(fit_s)
            loops.append(sum(record["seconds"] for record in clf.history_))
        slots = clf.field_spec_.n_slots
        rows.append({"fields": name, "slots": slots, "fit s": np.median(fits),
                     "train samples/s": n_train * args.epochs / np.median(fits),
                     "loop samples/s": n_train * args.epochs / np.median(loops)})
    table = pd.DataFrame(rows).set_index("fields")
    print(f"{n_train:,} training rows, {args.epochs} epoch(s), {args.repeats} repeats "
          f"(medians), {args.threads} threads; list lengths: mean {lengths.mean():.1f}, "
          f"99th percentile {np.quantile(lengths, 0.99):.0f}, longest {lengths.max()}\n")
    print(table.to_markdown(floatfmt=",.1f"))
    seconds = table["fit s"]
    plain_cost = seconds.iloc[1] - seconds.iloc[0]
    bag_cost = seconds.iloc[2] - seconds.iloc[0]
    print(f"\n- throughput, plain / multi-valued extra field: "
          f"{table['train samples/s'].iloc[1] / table['train samples/s'].iloc[2]:.2f}x "
          "(target < 2x)")
    print(f"- marginal fit seconds of the field: plain {plain_cost:.2f} s, multi-valued "
          f"{bag_cost:.2f} s ({bag_cost / plain_cost if plain_cost > 0 else float('nan'):.1f}x)")
    print(f"- encoded block: {clf.field_spec_.field_slots[-1]} slots x 8 bytes per row, "
          f"against {lengths.max()} slots if every row were padded to the longest")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--vocab", type=int, default=100_000,
                        help="categorical levels summed over the 26 columns")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0))
                        if hasattr(os, "sched_getaffinity") else os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pytorch-tabular", metavar="PYTHON",
                        help="Python of a venv with pytorch-tabular 1.2 (skipped without)")
    parser.add_argument("--configs", default=",".join(CONFIG_BY_NAME),
                        help="comma-separated configurations to run")
    parser.add_argument("--implementations", default=",".join(RUNNERS),
                        help="comma-separated implementations to run")
    parser.add_argument("--smoke", action="store_true",
                        help="3,000 rows and 1 repeat: checks that everything runs")
    parser.add_argument("--multi-valued", action="store_true",
                        help="measure the cost of a multi-valued field instead")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.repeats = 3_000, 1
    if args.multi_valued:
        return multi_valued_speed(args)

    if args.pytorch_tabular:
        os.environ[PYTORCH_TABULAR_PYTHON] = args.pytorch_tabular  # the children inherit it
    gflops = {name: gemm_gflops(args.threads, repeats=3 if args.smoke else 9, dtype=dtype)
              for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16))}
    data, data_s = _timed(make_data, args.rows, args.vocab, args.seed)
    n_train, n_test = len(data["y_train"]), len(data["y_test"])
    header = (f"{n_train:,} train + {n_test:,} test rows, {args.vocab:,} levels, positive rate "
              f"{data['y_train'].mean():.3f}, oracle test AUC {data['oracle_auc']:.4f}")
    print(f"data: {header}, generated in {data_s:.1f} s", file=sys.stderr)

    records = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.pkl"
        pd.to_pickle(data, path)
        del data
        for repeat in range(args.repeats):  # repeats outermost: slow drifts hit all alike
            for config in CONFIGS:
                if config.name not in args.configs.split(","):
                    continue
                for implementation in config.implementations:
                    if implementation not in args.implementations.split(",") or (
                            implementation == "pytorch-tabular" and not args.pytorch_tabular):
                        continue
                    result = in_fresh_process(measure, implementation, config.name, str(path),
                                              args.seed + repeat, args.epochs, args.threads)
                    fields, width = attention_layout(config, implementation)
                    records.append({"config": config.name, "implementation": implementation,
                                    "attention fields": fields, "head width": width,
                                    **result})
                    print(f"repeat {repeat + 1}/{args.repeats} {config.name:8} "
                          f"{implementation:14} fit {result['fit s']:7.2f} s  "
                          f"AUC {result['test AUC']:.4f}", file=sys.stderr, flush=True)

    table = results_table(records, n_train, n_test, args.epochs)
    print(f"\n### AutoInt training speed ({args.epochs} epoch(s), median of {args.repeats})\n")
    print(f"data: {header}")
    print(f"torch {torch.__version__}, {args.threads} thread(s); GEMM (2048 x 2048 torch.mm): "
          f"float32 {gflops['float32']:.1f} GFLOP/s, bfloat16 {gflops['bfloat16']:.1f} GFLOP/s; "
          f"AMX: {'yes' if has_amx() else 'no'}\n")
    print(_formatted(table, {
        "encode s": "{:.2f}", "train samples/s": "{:,.0f}", "loop samples/s": "{:,.0f}",
        "predict rows/s": "{:,.0f}", "peak RSS MiB": "{:,.0f}", "model RSS MiB": "{:,.0f}",
        "test AUC": "{:.4f}",
    }).to_markdown(index=False))
    print()
    ratio_formats = {f"skautoint / {peer}": "{:.2f}x" for peer in PEERS}
    for what in ("train samples/s", "predict rows/s"):
        print(f"skautoint's {what} over each peer's:\n")
        print(_formatted(ratios_table(table, what), ratio_formats)
              .to_markdown(index=False))
        print()
    roofline = roofline_table(table, gflops)
    if roofline.empty:
        print("No roofline table: it reads the rows 'skautoint float32' and 'skautoint "
              "bfloat16' (add them to --implementations).")
    else:
        print(_formatted(roofline, {
            "train MFLOP/sample": "{:.2f}", "GEMM GFLOP/s": "{:,.0f}",
            "roofline samples/s": "{:,.0f}", "fit / roofline": "{:.1%}",
            "loop / roofline": "{:.1%}",
        }).to_markdown(index=False))
    print()
    print(NOTES)
    print(f"command: {command_line()}")


if __name__ == "__main__":
    main()
