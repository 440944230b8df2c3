"""Does the attention attend? Per-layer entropy of the attention, and what it is worth.

For each data set of ``bench_datasets.py`` (fixed splits) and seed, skautoint is fitted with
its defaults (plus ``--params``) twice: as it is, and with every interacting layer's attention
forced uniform (each field mixes all fields with weight ``1 / n_fields``: the ablation). Printed
per form: test ROC AUC, fit seconds and, from :func:`skautoint.inspection.attention_entropy` on
2,000 test rows, each layer's mean entropy relative to uniform (1.0 = uniform, the map explains
nothing). The AUC difference between the two forms is what learned attention is worth.

``--planted`` asks whether the explanations find a known interaction: Adult with half its
labels rewritten from two real columns (``occupation`` and ``relationship``), and the rank of
that pair by the attention (:func:`skautoint.inspection.rank_field_pairs`) and by Friedman's
H (:func:`skautoint.inspection.rank_interactions`), per seed. ``--agreement`` compares the
two rankings on each data set (Spearman's rank correlation, and each one's top pairs).

Run (one thread per process; about 15 minutes for Adult and MovieLens, 3 seeds)::

    cd benchmarks
    OMP_NUM_THREADS=1 ../.venv/bin/python bench_attention.py --datasets adult,movielens --seeds 3
    OMP_NUM_THREADS=1 ../.venv/bin/python bench_attention.py --datasets adult \\
        --params '{"attention_scaling": true}'
    OMP_NUM_THREADS=1 ../.venv/bin/python bench_attention.py --datasets adult,movielens \\
        --probe rms-qk
    OMP_NUM_THREADS=1 ../.venv/bin/python bench_attention.py --datasets adult,movielens \\
        --params '{"field_pair_bias": "all_layers"}' --pair-bias-gain 5
    OMP_NUM_THREADS=1 ../.venv/bin/python bench_attention.py --planted --seeds 5      # ~6 min
    OMP_NUM_THREADS=1 ../.venv/bin/python bench_attention.py --agreement \\
        --datasets avazu,movielens,adult,german_credit,titanic
"""

import argparse
import contextlib
import json
import sys
import time
import warnings
from unittest import mock

import bench_datasets as datasets
import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier
from skautoint import _network as network_module
from skautoint._network import AutoIntNet, InteractingLayer
from skautoint.inspection import attention_entropy, rank_field_pairs, rank_interactions

SETS = datasets.BINARY
ENTROPY_ROWS = 2000


def uniform_attend(layer, q, k):
    """The ablation's attention: every field mixes all fields with equal weights."""
    batch, n_fields = q.shape[:2]
    return torch.full((batch, layer.n_heads, n_fields, n_fields), 1.0 / n_fields,
                      dtype=q.dtype, device=q.device)


class RMSQueryKey(torch.nn.Module):
    """A probe, not a parameter of skautoint: the fused Q/K/V projection of one layer with
    queries and keys computed from the field vectors divided by their root mean square (values
    from the vectors as they are), so that the attention logits do not shrink with the scale
    of the embeddings."""

    def __init__(self, qkv, heads_dim):
        super().__init__()
        self.qkv, self.heads_dim = qkv, heads_dim

    def forward(self, x):
        normalised = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        query_key = slice(0, 2 * self.heads_dim)
        value = slice(2 * self.heads_dim, None)
        bias = self.qkv.bias
        return torch.cat([
            torch.nn.functional.linear(normalised, self.qkv.weight[query_key],
                                       None if bias is None else bias[query_key]),
            torch.nn.functional.linear(x, self.qkv.weight[value],
                                       None if bias is None else bias[value]),
        ], dim=-1)


def _with_rms_query_key(init):
    def patched(layer, *args, **kwargs):
        init(layer, *args, **kwargs)
        layer.qkv = RMSQueryKey(layer.qkv, layer.heads_dim)
    return patched


def _zero_queries(reset):
    @torch.no_grad()
    def patched(network, generator):
        reset(network, generator)
        for layer in network.layers:
            layer.qkv.qkv.weight[:layer.heads_dim].zero_()
    return patched


def _probe_rms_qk_zero_queries():
    stack = contextlib.ExitStack()
    stack.enter_context(PROBES["rms-qk"]())
    stack.enter_context(mock.patch.object(AutoIntNet, "reset_parameters",
                                          _zero_queries(AutoIntNet.reset_parameters)))
    return stack


def _first_layer_rms_query_key(init):
    def patched(network, *args, **kwargs):
        init(network, *args, **kwargs)
        if len(network.layers):
            first = network.layers[0]
            first.qkv = RMSQueryKey(first.qkv, first.heads_dim)
    return patched


class ResidualWithContext(torch.nn.Module):
    """A probe, not a parameter of skautoint: a layer's projected residual plus a context
    path, the same projection of the mean of the row's field vectors added to every field
    (what a uniform attention head passes on), so that the attention need not stay uniform
    to give each field a view of all of them."""

    def __init__(self, residual, output_dim):
        super().__init__()
        self.residual = residual
        self.context = torch.nn.Linear(residual.in_features, output_dim, bias=False)

    def forward(self, x):
        return self.residual(x) + self.context(x.mean(1, keepdim=True))


def _first_layer_rms_query_key_context(init):
    def patched(network, *args, **kwargs):
        _first_layer_rms_query_key(init)(network, *args, **kwargs)
        if len(network.layers):
            first = network.layers[0]
            first.residual = ResidualWithContext(first.residual, first.output_dim)
    return patched


PROBES = {
    "rms-qk": lambda: mock.patch.object(
        InteractingLayer, "__init__", _with_rms_query_key(InteractingLayer.__init__)),
    # only the first layer's queries and keys read RMS-normalised field vectors
    "rms-qk-first": lambda: mock.patch.object(
        AutoIntNet, "__init__", _first_layer_rms_query_key(AutoIntNet.__init__)),
    # the same, with W_Q drawn as zeros: the attention starts uniform and learns from there
    "rms-qk-zero-q": _probe_rms_qk_zero_queries,
    # rms-qk-first plus a context path in the first layer (the mean field vector, projected)
    "rms-qk-first-context": lambda: mock.patch.object(
        AutoIntNet, "__init__", _first_layer_rms_query_key_context(AutoIntNet.__init__)),
}


def fit_and_measure(data, params, seed, uniform, probe=None, pair_bias_gain=None):
    X_train, y_train, X_test, y_test = data
    model = AutoIntClassifier(random_state=seed, **params)
    patch = (mock.patch.object(InteractingLayer, "attend", uniform_attend) if uniform
             else contextlib.nullcontext())
    probing = PROBES[probe]() if probe else contextlib.nullcontext()
    gain = (mock.patch.object(network_module, "PAIR_BIAS_GAIN", pair_bias_gain)
            if pair_bias_gain is not None else contextlib.nullcontext())
    with patch, probing, gain, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        table = attention_entropy(model.attention_weights(X_test.iloc[:ENTROPY_ROWS]))
    per_layer = table.groupby("layer")["relative_entropy"].mean()
    return {"ROC AUC": auc, "fit s": seconds,
            **{f"entropy L{layer + 1}": value for layer, value in per_layer.items()}}


PLANTED_PAIR = ("occupation", "relationship")


def planted_adult(seed, fraction=0.5):
    """Adult with the target of a random ``fraction`` of the rows (train and test) rewritten
    from the two real columns of ``PLANTED_PAIR``: half the levels of each column (chosen at
    random) get the sign +1, the others -1, and the rewritten label is 1 where the two signs
    agree (no single column tells it)."""
    X_train, y_train, X_test, y_test = datasets.adult()
    rng = np.random.default_rng(seed)
    signs = {}
    for column in PLANTED_PAIR:  # half the levels +1, half -1, in a random order
        levels = pd.concat([X_train[column], X_test[column]]).dropna().unique()
        alternating = np.where(np.arange(len(levels)) % 2 == 0, 1, -1)
        signs[column] = dict(zip(levels, rng.permutation(alternating), strict=True))

    def rewrite(X, y):
        agree = np.ones(len(X))
        for column in PLANTED_PAIR:
            agree *= X[column].map(signs[column]).fillna(1).to_numpy(dtype=float)
        chosen = rng.random(len(X)) < fraction
        return np.where(chosen, (agree > 0).astype(int), y)

    return X_train, rewrite(X_train, y_train), X_test, rewrite(X_test, y_test)


def planted_report(seeds, params):
    """Where each explanation ranks the planted pair, per seed: the attention
    (``rank_field_pairs``, mean over layers and heads on 2,000 test rows) and Friedman's H
    (``rank_interactions`` on 100 test rows)."""
    rows = []
    for seed in range(seeds):
        X_train, y_train, X_test, y_test = planted_adult(seed)
        model = AutoIntClassifier(random_state=seed, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train)
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        start = time.perf_counter()
        by_h = rank_interactions(model, X_test, n_rows=100, random_state=seed)
        h_seconds = time.perf_counter() - start
        by_attention = rank_field_pairs(model.attention_weights(X_test.iloc[:ENTROPY_ROWS],
                                                                per_row=False))
        rows.append({"seed": seed, "ROC AUC": round(auc, 4),
                     "rank by attention": _rank_of(by_attention, PLANTED_PAIR),
                     "rank by H": _rank_of(by_h, PLANTED_PAIR),
                     "H top pair": " x ".join(by_h.iloc[0, :2]),
                     "H seconds": round(h_seconds, 1)})
        print(f"  planted, seed {seed}: {rows[-1]}", file=sys.stderr, flush=True)
    table = pd.DataFrame(rows)
    n_pairs = len(by_h)
    print(f"\n### Adult, planted pair {' x '.join(PLANTED_PAIR)}: its rank among {n_pairs} "
          f"pairs (1 = first), skautoint {params or 'defaults'}\n")
    print(table.to_markdown(index=False))
    for method in ("rank by attention", "rank by H"):
        print(f"- {method}: first in {(table[method] == 1).sum()} of {len(table)} seeds",
              flush=True)


def agreement_report(names, params, n_rows=50):
    """Per data set (seed 0): how the attention's pair ranking agrees with Friedman's H on
    the same model (Spearman's rank correlation of the pairs' strengths) and each one's
    three strongest pairs."""
    rows = []
    for name in names:
        X_train, y_train, X_test, _ = SETS[name]()
        model = AutoIntClassifier(random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train)
        by_attention = rank_field_pairs(model.attention_weights(X_test.iloc[:ENTROPY_ROWS],
                                                                per_row=False))
        by_h = rank_interactions(model, X_test, n_rows=n_rows, random_state=0)
        key = ["field_a", "field_b"]
        # one key per unordered pair, whichever order each ranking names the fields in
        by_attention["pair"], by_h["pair"] = (
            [frozenset(pair) for pair in frame[key].to_numpy()] for frame in (by_attention, by_h))
        merged = by_attention.merge(by_h, on="pair", suffixes=(" attention", " H"))
        rho = spearmanr(merged["strength attention"], merged["strength H"]).statistic
        top = {method: "; ".join(" x ".join(pair) for pair in frame[key].to_numpy()[:3])
               for method, frame in [("attention", by_attention), ("H", by_h)]}
        rows.append({"data set": name, "pairs": len(merged), "Spearman rho": round(rho, 3),
                     "top 3 by attention": top["attention"], "top 3 by H": top["H"]})
        print(f"  agreement, {name}: rho {rho:.3f}", file=sys.stderr, flush=True)
    print(f"\n### Attention against Friedman's H (seed 0, H on {n_rows} test rows)\n")
    print(pd.DataFrame(rows).to_markdown(index=False), flush=True)


def _rank_of(pairs, pair):
    match = (((pairs["field_a"] == pair[0]) & (pairs["field_b"] == pair[1]))
             | ((pairs["field_a"] == pair[1]) & (pairs["field_b"] == pair[0])))
    return int(np.flatnonzero(match.to_numpy())[0]) + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="adult,movielens",
                        help=f"comma-separated, of {', '.join(SETS)} (default: adult,movielens)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--params", default="{}",
                        help="JSON of AutoIntClassifier parameters on top of the defaults")
    parser.add_argument("--planted", action="store_true",
                        help="rank a planted interaction of two real Adult columns by "
                             "attention and by Friedman's H instead")
    parser.add_argument("--probe", choices=list(PROBES), default=None,
                        help="fit only the learned attention, with a probe's change to the "
                             "layers (rms-qk: queries and keys from RMS-normalised vectors)")
    parser.add_argument("--pair-bias-gain", type=float, default=None,
                        help="the gain of field_pair_bias (skautoint's PAIR_BIAS_GAIN, 10)")
    parser.add_argument("--agreement", action="store_true",
                        help="compare the attention's pair ranking with Friedman's H on "
                             "each data set instead (seed 0)")
    args = parser.parse_args()
    params = json.loads(args.params)
    if args.planted:
        return planted_report(args.seeds, params)
    names = args.datasets.split(",")
    unknown = [name for name in names if name not in SETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {list(SETS)}")
    if args.agreement:
        return agreement_report(names, params)
    for name in names:
        rows, data = [], SETS[name]()  # read once, fitted per form and seed
        forms = ([(f"learned attention, probe {args.probe}", False)] if args.probe
                 else [("learned attention", False), ("uniform attention", True)])
        for form, uniform in forms:
            for seed in range(args.seeds):
                rows.append({"form": form, "seed": seed, **fit_and_measure(
                    data, params, seed, uniform, args.probe, args.pair_bias_gain)})
                print(f"  {name}, {form}, seed {seed}: fit {rows[-1]['fit s']:.1f} s",
                      file=sys.stderr, flush=True)
        results = pd.DataFrame(rows)
        metrics = [c for c in results.columns if c not in ("form", "seed")]
        grouped = results.groupby("form", sort=False)[metrics]
        mean, std = grouped.mean(), grouped.std(ddof=0)
        table = pd.DataFrame(index=mean.index)
        for metric in metrics:
            digits = {"ROC AUC": 4, "fit s": 1}.get(metric, 3)
            table[metric] = [f"{m:.{digits}f} ± {s:.{digits}f}"
                             for m, s in zip(mean[metric], std[metric], strict=True)]
        print(f"\n### {name}, skautoint {params or 'defaults'} ({args.seeds} seeds, "
              "mean ± std)\n")
        print(table.to_markdown())
        if not args.probe:
            worth = (mean.loc["learned attention", "ROC AUC"]
                     - mean.loc["uniform attention", "ROC AUC"])
            print(f"\n- learned attention is worth {worth:+.4f} ROC AUC over uniform "
                  "attention", flush=True)


if __name__ == "__main__":
    main()
