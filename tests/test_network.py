"""The AutoInt network against slow, literal implementations of every layer form it builds.

Each form is written here from its equations: plain float64 torch, one row, one head and one
field at a time, explicit matrices ``W @ e + b`` and an explicit LayerNorm. The weights are copied
out of the skautoint module (the fused ``qkv`` Linear holds W_Q, W_K, W_V with its output
features laid out as (3, n_heads, attention_dim)), both run on the same random input, and the
outputs and attention weights must agree to 1e-6. Every parameter is re-drawn at random first
(biases, LayerNorm's gain and shift, the field vectors, the first-order weights), so that a missing
or extra term cannot hide behind a zero or a one, and each form's parameter set is asserted by
name and shape: the switches build exactly the parameters of the equations, no more.
"""

import math

import pytest
import torch

from skautoint._network import (
    PAIR_BIAS_GAIN,
    AutoIntNet,
    FieldEmbedding,
    InteractingLayer,
    check_layer_form,
)
from skautoint._softmax import SHORT_AXIS, softmax_last

TOL = {"atol": 1e-6, "rtol": 1e-6}
f64 = torch.float64


def randomise(module, seed=0, std=0.4):
    """Re-draw every parameter of ``module`` from N(0, std^2)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(std * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


def shapes(module):
    return {name: tuple(p.shape) for name, p in module.named_parameters()}


def copy_layer(layer):
    """The layer's weights as the matrices of the equations (float64 copies).

    ``W_Q[h]`` is head h's (d', d) query matrix, and so on; ``W_O``, ``W_res`` and the
    LayerNorm's ``gamma``, ``beta``, ``eps`` when the layer has them."""
    def c(t):
        return t.detach().to(f64).clone()

    heads, width = layer.n_heads, layer.attention_dim
    w = c(layer.qkv.weight).view(3, heads, width, -1)
    P = {"W_Q": w[0], "W_K": w[1], "W_V": w[2]}
    if layer.qkv.bias is not None:
        b = c(layer.qkv.bias).view(3, heads, width)
        P.update(b_Q=b[0], b_K=b[1], b_V=b[2])
    for key, linear in (("O", layer.output_projection), ("res", layer.residual)):
        if linear is not None:
            P[f"W_{key}"] = c(linear.weight)
            if linear.bias is not None:
                P[f"b_{key}"] = c(linear.bias)
    if layer.norm is not None:
        P.update(gamma=c(layer.norm.weight), beta=c(layer.norm.bias), eps=layer.norm.eps)
    return P


def literal_heads(P, e, *, biased=False, scaled=False, keep=None):
    """The attention of paper eqs. (5)-(6) for one row ``e`` (F, d), head by head, field by field.

    a^h_mk = softmax_k(<W_Q^h e_m [+ b_Q^h], W_K^h e_k [+ b_K^h]> [/ sqrt(d')]),
    e~^h_m = sum_k a^h_mk (W_V^h e_k [+ b_V^h]).
    ``keep`` (H, F, F), the dropout multipliers, scales a^h_mk inside the sum only.
    Returns concat_h e~^h_m per field (F, H d') and a (H, F, F)."""
    n_fields = e.shape[0]
    n_heads, width, _ = P["W_Q"].shape
    attention = torch.zeros(n_heads, n_fields, n_fields, dtype=f64)
    per_field = [[] for _ in range(n_fields)]
    for h in range(n_heads):
        def project(name, x, h=h):
            return P[f"W_{name}"][h] @ x + (P[f"b_{name}"][h] if biased else 0.0)

        q = [project("Q", e[m]) for m in range(n_fields)]
        k = [project("K", e[m]) for m in range(n_fields)]
        v = [project("V", e[m]) for m in range(n_fields)]
        for m in range(n_fields):
            logits = torch.stack([torch.dot(q[m], k[j]) for j in range(n_fields)])
            if scaled:
                logits = logits / math.sqrt(width)
            a = torch.exp(logits - logits.max())
            a = a / a.sum()
            attention[h, m] = a
            if keep is not None:
                a = a * keep[h, m]
            per_field[m].append(sum(a[j] * v[j] for j in range(n_fields)))
    return torch.stack([torch.cat(heads) for heads in per_field]), attention


def layer_norm(P, x):
    """LayerNorm of one vector: gamma * (x - mean) / sqrt(biased var + eps) + beta."""
    mean = x.mean()
    var = ((x - mean) ** 2).mean()
    return P["gamma"] * (x - mean) / torch.sqrt(var + P["eps"]) + P["beta"]


# The forms, one row at a time: each takes the copied weights and e (F, d) and returns
# (the layer's output (F, d_out), the attention weights (H, F, F)).

def paper_layer(P, e):
    """Form 1, the paper: e'_m = ReLU(concat_h e~^h_m + W_res e_m); no bias, no scaling."""
    heads, attention = literal_heads(P, e)
    out = [torch.relu(heads[m] + P["W_res"] @ e[m]) for m in range(len(e))]
    return torch.stack(out), attention


def transformer_layer(P, e, keep=None):
    """Form 2, the transformer block:
    e'_m = LayerNorm(e_m + W_O concat_h(sum_k softmax_k(<W_Q e_m + b_Q, W_K e_k + b_K>
    / sqrt(d')) (W_V e_k + b_V)) + b_O); no activation."""
    heads, attention = literal_heads(P, e, biased=True, scaled=True, keep=keep)
    out = [layer_norm(P, e[m] + P["W_O"] @ heads[m] + P["b_O"]) for m in range(len(e))]
    return torch.stack(out), attention


def wide_head_layer(P, e):
    """Form 3, heads as wide as the embedding (d' = d), scaled, biased:
    e'_m = ReLU(W_O concat_h e~^h_m + b_O + W_res e_m + b_res)."""
    heads, attention = literal_heads(P, e, biased=True, scaled=True)
    out = [torch.relu(P["W_O"] @ heads[m] + P["b_O"] + P["W_res"] @ e[m] + P["b_res"])
           for m in range(len(e))]
    return torch.stack(out), attention


def flattened_layer(P, e):
    """Form 4, flattened: A = [concat_h e~^h_1, ..., concat_h e~^h_F] (F H d' numbers),
    x = [e_1, ..., e_F]; out = ReLU(W_O A + b_O + W_res x + b_res), read as F vectors of d."""
    heads, attention = literal_heads(P, e, biased=True)
    A = torch.cat([heads[m] for m in range(len(e))])
    x = torch.cat([e[m] for m in range(len(e))])
    out = torch.relu(P["W_O"] @ A + P["b_O"] + P["W_res"] @ x + P["b_res"])
    return out.view(len(e), -1), attention


def norm_then_relu_layer(P, e):
    """Form 5a, FuxiCTR's layer_norm: e'_m = ReLU(LayerNorm(concat_h e~^h_m + W_res e_m))."""
    heads, attention = literal_heads(P, e)
    out = [torch.relu(layer_norm(P, heads[m] + P["W_res"] @ e[m])) for m in range(len(e))]
    return torch.stack(out), attention


def relu_then_norm_layer(P, e):
    """Form 5b, the authors' TensorFlow code:
    e'_m = LayerNorm(ReLU(concat_h e~^h_m + W_res e_m))."""
    heads, attention = literal_heads(P, e)
    out = [layer_norm(P, torch.relu(heads[m] + P["W_res"] @ e[m])) for m in range(len(e))]
    return torch.stack(out), attention


def run_rows(form, P, x, **kwargs):
    """Apply a one-row literal form to each row of the batch ``x``."""
    results = [form(P, x[b], **{k: v[b] for k, v in kwargs.items()}) for b in range(len(x))]
    return torch.stack([r[0] for r in results]), torch.stack([r[1] for r in results])


def check_layer(layer, form, x):
    """Run the module and the literal form on ``x`` (float64) and compare both outputs."""
    out, attention = layer(x)
    expected_out, expected_attention = run_rows(form, copy_layer(layer), x)
    torch.testing.assert_close(out, expected_out, **TOL)
    torch.testing.assert_close(attention, expected_attention, **TOL)
    return out


def layer_shapes(d_in, d_out, n_heads, width, *, bias=False, output=None, residual=None,
                 norm=False):
    """Parameter shapes of an interacting layer from its equations."""
    expected = {"qkv.weight": (3 * n_heads * width, d_in)}
    if bias:
        expected["qkv.bias"] = (3 * n_heads * width,)
    for name, shape in (("output_projection", output), ("residual", residual)):
        if shape is not None:
            expected[f"{name}.weight"] = shape
            if bias:
                expected[f"{name}.bias"] = (shape[0],)
    if norm:
        expected.update({"norm.weight": (d_out,), "norm.bias": (d_out,)})
    return expected


# --- Form 1: the paper ---------------------------------------------------------------------------

def test_form_paper_layer():
    torch.manual_seed(0)
    layer = randomise(InteractingLayer(6, attention_dim=4, n_heads=3)).double()
    assert shapes(layer) == layer_shapes(6, 12, 3, 4, residual=(12, 6))
    check_layer(layer, paper_layer, torch.randn(5, 7, 6, dtype=f64))


def literal_network(P, form, index, value):
    """Row by row: e_m = E[index_m] * value_m [+ p_m]; the layers; logit = W_out x + b_out
    with x the flattened fields [+ sum_m w[index_m] value_m + b_lin, the first-order term]."""
    n_fields = index.shape[1]
    logits, attentions = [], []
    for b in range(len(index)):
        e = torch.stack([P["E"][index[b, m]] * value[b, m] for m in range(n_fields)])
        if "p" in P:
            e = torch.stack([e[m] + P["p"][m] for m in range(n_fields)])
        x, attention = e, []
        for layer_P in P["layers"]:
            x, a = form(layer_P, x)
            attention.append(a)
        logit = P["W_out"] @ torch.cat([x[m] for m in range(n_fields)]) + P["b_out"]
        if "w" in P:
            logit = logit + sum(P["w"][index[b, m]] * value[b, m] for m in range(n_fields))
            logit = logit + P["b_lin"]
        logits.append(logit)
        attentions.append(attention)
    return torch.stack(logits), [torch.stack(layer_a) for layer_a in zip(*attentions, strict=True)]


def copy_network(net):
    def c(t):
        return t.detach().to(f64).clone()

    P = {"E": c(net.embedding.weight), "W_out": c(net.output.weight), "b_out": c(net.output.bias),
         "layers": [copy_layer(layer) for layer in net.layers]}
    if net.field_bias is not None:
        P["p"] = c(net.field_bias)
    return P


def network_input(table_rows, n_fields, batch=6, seed=5):
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(0, table_rows, (batch, n_fields), generator=generator)
    value = torch.rand(batch, n_fields, generator=generator, dtype=f64) * 2 - 0.5
    return index, value


def test_form_paper_network():
    """Three paper layers stacked, flatten, Linear (with bias) to the logit."""
    net = randomise(AutoIntNet(30, 5, embedding_dim=6, n_layers=3, n_heads=2,
                               attention_dim=4)).double().eval()
    expected = {"embedding.weight": (30, 6), "output.weight": (1, 5 * 8), "output.bias": (1,)}
    for i, d_in in enumerate((6, 8, 8)):
        expected.update({f"layers.{i}.{k}": v
                         for k, v in layer_shapes(d_in, 8, 2, 4, residual=(8, d_in)).items()})
    assert shapes(net) == expected
    index, value = network_input(30, 5)
    raw, attention = net(index, value, return_attention=True)
    expected_raw, expected_attention = literal_network(copy_network(net), paper_layer, index,
                                                       value)
    torch.testing.assert_close(raw, expected_raw, **TOL)
    assert len(attention) == 3
    for got, want in zip(attention, expected_attention, strict=True):
        torch.testing.assert_close(got, want, **TOL)


# --- Form 2: the transformer block ---------------------------------------------------------------

TRANSFORMER = {"output_projection": "per_field", "residual": "identity",
               "layer_norm": "after_residual", "activation": "none", "projection_bias": True,
               "attention_scaling": True}


def test_form_transformer_layer_eval():
    layer = randomise(InteractingLayer(8, attention_dim=3, n_heads=2, dropout=0.3,
                                       **TRANSFORMER)).double().eval()
    assert shapes(layer) == layer_shapes(8, 8, 2, 3, bias=True, output=(8, 6), norm=True)
    check_layer(layer, transformer_layer, torch.randn(5, 6, 8, dtype=f64))


def test_form_transformer_layer_dropout_hits_only_the_attention_weights():
    """In train mode, the same seed draws the same Bernoulli mask; applied to a_mk inside
    the sum (and nowhere else) the literal form equals the module. The returned weights are
    the undropped softmax."""
    p = 0.3
    layer = randomise(InteractingLayer(8, attention_dim=3, n_heads=2, dropout=p,
                                       **TRANSFORMER)).double().train()
    x = torch.randn(5, 6, 8, dtype=f64)
    torch.manual_seed(11)
    out, attention = layer(x)
    torch.manual_seed(11)
    keep = torch.empty(5, 2, 6, 6, dtype=f64).bernoulli_(1 - p) / (1 - p)
    assert (keep == 0).any() and (keep > 0).any()
    expected_out, expected_attention = run_rows(transformer_layer, copy_layer(layer), x,
                                                keep=keep)
    torch.testing.assert_close(out, expected_out, **TOL)
    torch.testing.assert_close(attention, expected_attention, **TOL)
    # The dropout did act (train differs from eval), and dropout=0 in train mode is eval.
    eval_out, eval_attention = layer.eval()(x)
    assert not torch.allclose(out, eval_out)
    torch.testing.assert_close(attention, eval_attention, **TOL)
    plain = InteractingLayer(8, attention_dim=3, n_heads=2, **TRANSFORMER).double()
    plain.load_state_dict(layer.state_dict())
    torch.testing.assert_close(plain.train()(x)[0], eval_out, **TOL)


def test_form_transformer_network_with_field_bias_and_linear_term():
    """p_m added to every embedding before the first layer; the first-order term
    sum_m w[index_m] value_m + b_lin, whose bias folds into the output's: b_out + b_lin."""
    net = randomise(AutoIntNet(30, 5, embedding_dim=8, n_layers=2, n_heads=2, attention_dim=3,
                               field_bias=True, linear_term=True, dropout=0.3,
                               **TRANSFORMER)).double().eval()
    expected = {"embedding.weight": (30, 8), "field_bias": (5, 8), "output.weight": (1, 40),
                "output.bias": (1,), "linear.weight": (30, 1)}
    for i in range(2):
        expected.update({f"layers.{i}.{k}": v for k, v in layer_shapes(
            8, 8, 2, 3, bias=True, output=(8, 6), norm=True).items()})
    assert shapes(net) == expected
    P = copy_network(net)
    generator = torch.Generator().manual_seed(3)
    P["b_out"], P["b_lin"] = torch.randn(2, 1, generator=generator, dtype=f64)
    P["w"] = net.linear.weight.detach().clone()
    with torch.no_grad():
        net.output.bias.copy_(P["b_out"] + P["b_lin"])
    index, value = network_input(30, 5)
    raw, attention = net(index, value, return_attention=True)
    expected_raw, expected_attention = literal_network(P, transformer_layer, index, value)
    torch.testing.assert_close(raw, expected_raw, **TOL)
    for got, want in zip(attention, expected_attention, strict=True):
        torch.testing.assert_close(got, want, **TOL)
    # Without the field vectors the logits change: the literal form's p_m is a real term.
    del P["p"]
    assert not torch.allclose(raw, literal_network(P, transformer_layer, index, value)[0])


# --- Form 3: heads as wide as the embedding ------------------------------------------------------

def test_form_wide_heads_layer():
    layer = randomise(InteractingLayer(6, attention_dim=6, n_heads=2, attention_scaling=True,
                                       output_projection="per_field", residual="projected",
                                       projection_bias=True)).double()
    assert shapes(layer) == layer_shapes(6, 6, 2, 6, bias=True, output=(6, 12), residual=(6, 6))
    check_layer(layer, wide_head_layer, torch.randn(5, 7, 6, dtype=f64))


# --- Form 4: the flattened projection ------------------------------------------------------------

def test_form_flattened_layer():
    layer = randomise(InteractingLayer(5, attention_dim=3, n_heads=2, n_fields=4,
                                       output_projection="flattened", residual="projected",
                                       projection_bias=True)).double()
    assert shapes(layer) == layer_shapes(5, 5, 2, 3, bias=True, output=(4 * 5, 4 * 6),
                                         residual=(4 * 5, 4 * 5))
    check_layer(layer, flattened_layer, torch.randn(6, 4, 5, dtype=f64))


def test_form_flattened_network():
    net = randomise(AutoIntNet(30, 4, embedding_dim=5, n_layers=2, n_heads=2, attention_dim=3,
                               output_projection="flattened",
                               projection_bias=True)).double().eval()
    index, value = network_input(30, 4)
    raw, attention = net(index, value, return_attention=True)
    expected_raw, expected_attention = literal_network(copy_network(net), flattened_layer,
                                                       index, value)
    torch.testing.assert_close(raw, expected_raw, **TOL)
    for got, want in zip(attention, expected_attention, strict=True):
        torch.testing.assert_close(got, want, **TOL)


# --- Form 5: LayerNorm before or after the ReLU --------------------------------------------------

@pytest.mark.parametrize(("where", "form", "other"), [
    ("after_residual", norm_then_relu_layer, relu_then_norm_layer),
    ("after_activation", relu_then_norm_layer, norm_then_relu_layer),
])
def test_form_layer_norm_placement(where, form, other):
    layer = randomise(InteractingLayer(6, attention_dim=4, n_heads=3,
                                       layer_norm=where)).double()
    assert shapes(layer) == layer_shapes(6, 12, 3, 4, residual=(12, 6), norm=True)
    x = torch.randn(5, 7, 6, dtype=f64)
    out = check_layer(layer, form, x)
    # The comparison tells the two orders apart on this input.
    assert not torch.allclose(out, run_rows(other, copy_layer(layer), x)[0], atol=1e-3)


# --- Form 6: DeepCTR-Torch's AutoInt -------------------------------------------------------------

def deepctr_autoint(D, sparse_index):
    """DeepCTR-Torch's AutoInt (models/autoint.py, layers/interaction.py InteractingLayer) on
    F sparse fields, as it computes, for the whole batch.

    Per field f an embedding table emb[f] (rows_f, d) and an LR weight lin[f] (rows_f, 1).
    X = stack_f emb[f][i_f]; per layer with (d, d) matrices used as X @ W: Q = X @ W_Query, ...,
    head h = column block [h d/H, (h + 1) d/H), result = concat_h softmax(Q_h K_h^T) V_h,
    result += X @ W_Res, ReLU. DNN on the flattened embeddings: Linear+ReLU per hidden layer.
    logit = sum_f lin[f][i_f] + cat[flatten(att), dnn] @ W_dnn_linear^T (no bias) + bias
    (PredictionLayer's)."""
    n_fields = sparse_index.shape[1]
    X = torch.stack([D["emb"][f][sparse_index[:, f]] for f in range(n_fields)], dim=1)
    dnn_input = X.flatten(1)
    width = X.shape[-1] // D["head_num"]
    attentions = []
    for W in D["int_layers"]:
        querys, keys, values = X @ W["W_Query"], X @ W["W_Key"], X @ W["W_Value"]
        heads, scores = [], []
        for h in range(D["head_num"]):
            block = slice(h * width, (h + 1) * width)
            a = torch.softmax(querys[..., block] @ keys[..., block].transpose(1, 2), dim=-1)
            scores.append(a)
            heads.append(a @ values[..., block])
        X = torch.relu(torch.cat(heads, dim=-1) + X @ W["W_Res"])
        attentions.append(torch.stack(scores, dim=1))
    deep = dnn_input
    for weight, bias in D["dnn"]:
        deep = torch.relu(deep @ weight.T + bias)
    stack_out = torch.cat([X.flatten(1), deep], dim=1)
    linear_logit = sum(D["lin"][f][sparse_index[:, f]] for f in range(n_fields))
    return linear_logit + stack_out @ D["W_dnn_linear"].T + D["bias"], attentions


def test_form_deepctr_autoint_plus():
    """AutoIntNet(attention_dim=d // n_heads, mlp_hidden_units=(h1, h2), linear_term=True) is
    DeepCTR-Torch's AutoInt: its final Linear over cat[attention, DNN] is our output Linear on
    the attention part plus our MLP's last Linear on the DNN part (biases folded into one)."""
    rows, d, n_heads, hidden = (4, 7, 3, 5), 6, 2, (8, 4)
    offsets = [sum(rows[:f]) for f in range(len(rows))]
    n_fields = len(rows)
    net = randomise(AutoIntNet(sum(rows), n_fields, embedding_dim=d, n_layers=2, n_heads=n_heads,
                               attention_dim=d // n_heads, mlp_hidden_units=hidden,
                               linear_term=True)).double().eval()
    assert [type(m).__name__ for m in net.mlp] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]

    def c(t):
        return t.detach().clone()

    def per_field(table):
        return [c(table[o:o + r]) for o, r in zip(offsets, rows, strict=True)]

    width = d // n_heads
    int_layers = []
    for layer in net.layers:
        w = c(layer.qkv.weight).view(3, n_heads, width, d)
        # DeepCTR's W_Query[:, head h block] is our W_Q^h transposed.
        W_Query, W_Key, W_Value = (torch.cat([w[i, h].T for h in range(n_heads)], dim=1)
                                   for i in range(3))
        int_layers.append({"W_Query": W_Query, "W_Key": W_Key, "W_Value": W_Value,
                           "W_Res": c(layer.residual.weight).T})
    D = {
        "emb": per_field(net.embedding.weight), "lin": per_field(net.linear.weight),
        "head_num": n_heads, "int_layers": int_layers,
        "dnn": [(c(net.mlp[i].weight), c(net.mlp[i].bias)) for i in (0, 2)],
        "W_dnn_linear": torch.cat([c(net.output.weight), c(net.mlp[4].weight)], dim=1),
        "bias": c(net.output.bias) + c(net.mlp[4].bias),
    }
    assert D["W_dnn_linear"].shape == (1, n_fields * d + hidden[-1])
    generator = torch.Generator().manual_seed(8)
    sparse_index = torch.stack([torch.randint(0, r, (9,), generator=generator) for r in rows],
                               dim=1)
    index = sparse_index + torch.tensor(offsets)
    raw, attention = net(index, torch.ones(9, n_fields, dtype=f64), return_attention=True)
    expected_raw, expected_attention = deepctr_autoint(D, sparse_index)
    torch.testing.assert_close(raw, expected_raw, **TOL)
    for got, want in zip(attention, expected_attention, strict=True):
        torch.testing.assert_close(got, want, **TOL)


# --- Every switch combination against one literal composition ------------------------------------

def composed_layer(form):
    """The general layer: attention, output projection, residual, LayerNorm and activation in
    the documented order, each switch read from ``form``."""
    def apply(P, e):
        biased, flattened = form["projection_bias"], form["output_projection"] == "flattened"
        heads, attention = literal_heads(P, e, biased=biased, scaled=form["attention_scaling"])
        n_fields = len(e)
        if flattened:  # one vector per row: the fields concatenated
            heads = torch.cat([heads[m] for m in range(n_fields)])[None]
            inputs = torch.cat([e[m] for m in range(n_fields)])[None]
        else:
            inputs = e
        out = []
        for m in range(len(heads)):
            y = heads[m]
            if form["output_projection"] != "none":
                y = P["W_O"] @ y + (P["b_O"] if biased else 0.0)
            if form["residual"] == "projected":
                y = y + P["W_res"] @ inputs[m] + (P["b_res"] if biased else 0.0)
            elif form["residual"] == "identity":
                y = y + inputs[m]
            out.append(y)
        out = torch.stack(out).view(n_fields, -1)
        fields = []
        for m in range(n_fields):
            y = out[m]
            if form["layer_norm"] == "after_residual":
                y = layer_norm(P, y)
            if form["activation"] == "relu":
                y = torch.relu(y)
            if form["layer_norm"] == "after_activation":
                y = layer_norm(P, y)
            fields.append(y)
        return torch.stack(fields), attention
    return apply


@pytest.mark.parametrize("output_projection", ["none", "per_field", "flattened"])
@pytest.mark.parametrize("residual", ["projected", "identity", "none"])
@pytest.mark.parametrize("layer_norm", ["none", "after_residual", "after_activation"])
@pytest.mark.parametrize(("activation", "projection_bias", "attention_scaling"),
                         [("relu", False, False), ("none", True, True)])
def test_every_layer_form(output_projection, residual, layer_norm, activation, projection_bias,
                          attention_scaling):
    form = {"output_projection": output_projection, "residual": residual,
            "layer_norm": layer_norm, "activation": activation,
            "projection_bias": projection_bias, "attention_scaling": attention_scaling}
    # 2 heads of 3 = 6 = the input width, so that an identity residual fits every projection.
    layer = randomise(InteractingLayer(6, attention_dim=3, n_heads=2, n_fields=4,
                                       **form)).double()
    check_layer(layer, composed_layer(form), torch.randn(3, 4, 6, dtype=f64))


# --- The form checks ---------------------------------------------------------------------------

def test_identity_residual_needs_equal_widths():
    with pytest.raises(ValueError, match="residual='identity'"):
        check_layer_form(8, 3, 2, residual="identity")
    with pytest.raises(ValueError, match="residual='identity'"):
        InteractingLayer(8, attention_dim=3, n_heads=2, residual="identity")
    with pytest.raises(ValueError, match="residual='identity'"):
        AutoIntNet(20, 4, embedding_dim=8, attention_dim=3, n_heads=2, residual="identity")
    # Equal widths, a projection back to the input width, or no layer at all: fine.
    check_layer_form(6, 3, 2, residual="identity")
    check_layer_form(8, 3, 2, residual="identity", output_projection="per_field")
    check_layer_form(8, 3, 2, residual="identity", output_projection="flattened")
    check_layer_form(8, 3, 2, residual="identity", n_layers=0)
    check_layer_form(8, 3, 2, residual="projected")
    AutoIntNet(20, 4, embedding_dim=8, attention_dim=3, n_heads=2, residual="identity",
               n_layers=0)


def test_flattened_projection_needs_n_fields():
    with pytest.raises(ValueError, match="n_fields"):
        InteractingLayer(6, attention_dim=3, n_heads=2, output_projection="flattened")


# --- The rest of the network ---------------------------------------------------------------------

def test_attention_weights_sum_to_one_over_fields():
    torch.manual_seed(1)
    net = AutoIntNet(table_rows=40, n_fields=9, n_layers=3)
    index = torch.randint(0, 40, (16, 9))
    _, attention = net(index, torch.rand(16, 9), return_attention=True)
    assert len(attention) == 3
    for weights in attention:
        assert weights.shape == (16, 2, 9, 9)
        assert (weights >= 0).all()
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(16, 2, 9))


def test_uniform_lookup_is_one_gather_and_one_multiply():
    torch.manual_seed(2)
    embedding = FieldEmbedding(10, 4)
    index = torch.tensor([[0, 3, 9], [2, 3, 5]])
    value = torch.tensor([[1.0, 0.5, -2.0], [1.0, 1.0, 0.0]])
    out = embedding(index, value)
    for b in range(2):
        for f in range(3):
            torch.testing.assert_close(out[b, f], embedding.weight[index[b, f]] * value[b, f])


def test_touched_rows_embed_from_the_batch_copy():
    """With ``batch_rows`` set (training's touched-rows step) the lookup reads the leaf copy
    of the batch's distinct rows: same output, and the gradient reaches the copy only."""
    torch.manual_seed(6)
    embedding = FieldEmbedding(12, 3)
    index = torch.tensor([[0, 5, 11], [5, 7, 0]])
    value = torch.rand(2, 3)
    dense = embedding(index, value)
    dense.square().sum().backward()
    dense_grad = embedding.weight.grad.clone()
    embedding.weight.grad = None
    rows, position = torch.unique(index, return_inverse=True)
    copy = embedding.weight.detach()[rows].requires_grad_()
    embedding.batch_rows = (position, copy)
    gathered = embedding(index, value)
    torch.testing.assert_close(gathered, dense)
    gathered.square().sum().backward()
    assert embedding.weight.grad is None
    torch.testing.assert_close(copy.grad, dense_grad[rows])
    untouched = torch.ones(12, dtype=torch.bool)
    untouched[rows] = False
    assert (dense_grad[untouched] == 0).all()
    embedding.batch_rows = None
    torch.testing.assert_close(embedding(index, value), dense)


@pytest.mark.parametrize("n_outputs", [1, 4])
@pytest.mark.parametrize(
    "options",
    [{}, {"linear_term": True}, {"mlp_hidden_units": (8, 4), "dropout": 0.2}, {"n_layers": 0},
     {"output_projection": "per_field", "residual": "identity", "layer_norm": "after_residual",
      "field_bias": True}],
)
def test_network_output_shape_and_branches(n_outputs, options):
    torch.manual_seed(3)
    net = AutoIntNet(table_rows=30, n_fields=5, n_outputs=n_outputs, embedding_dim=4,
                     attention_dim=3, **options)
    index, value = torch.randint(0, 30, (7, 5)), torch.rand(7, 5)
    net.eval()
    logits = net(index, value)
    assert logits.shape == (7, n_outputs)
    assert torch.isfinite(logits).all()
    if options.get("linear_term"):
        # The first-order term is one weight per table row, summed over the row's fields.
        with torch.no_grad():
            net.linear.weight.fill_(0.25)
        torch.testing.assert_close(net(index, value) - logits,
                                   (0.25 * value).sum(dim=1, keepdim=True).expand(-1, n_outputs))


def test_no_layers_is_a_linear_model_of_the_embeddings():
    net = randomise(AutoIntNet(30, 5, embedding_dim=4, n_layers=0)).double()
    index, value = network_input(30, 5)
    P = copy_network(net)
    assert P["layers"] == []
    torch.testing.assert_close(net(index, value), literal_network(P, None, index, value)[0],
                               **TOL)


@pytest.mark.parametrize("options", [
    {"layer_norm": "after_activation", "field_pair_bias": "all_layers"},
    {**TRANSFORMER, "attention_dim": 8, "field_bias": True},
    {"output_projection": "flattened", "projection_bias": True},
])
def test_every_parameter_receives_a_gradient(options):
    torch.manual_seed(4)
    net = AutoIntNet(table_rows=20, n_fields=4, linear_term=True, mlp_hidden_units=(8,),
                     **{"embedding_dim": 16, **options})
    net(torch.randint(0, 20, (32, 4)), torch.rand(32, 4)).sum().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert missing == []


def test_field_pair_bias_starts_at_zero_in_the_chosen_layers_and_shifts_the_logits():
    index, value = torch.randint(0, 30, (6, 5)), torch.rand(6, 5)
    nets = {where: AutoIntNet(30, 5, embedding_dim=4, attention_dim=3, field_pair_bias=where)
            for where in ("none", "first_layer", "all_layers")}
    assert [[layer.pair_bias is not None for layer in net.layers] for net in nets.values()] == [
        [False] * 3, [True, False, False], [True] * 3]
    assert nets["first_layer"].layers[0].pair_bias.shape == (2, 5, 5)
    # zero at the start: the same network as without it (the other weights drawn alike)
    with torch.no_grad():
        reference = nets["none"](index, value)
        for net in nets.values():
            torch.testing.assert_close(net(index, value), reference, rtol=0, atol=0)
    layer = nets["first_layer"].layers[0]
    q, k = torch.randn(6, 5, 2, 3), torch.randn(6, 5, 2, 3)
    bias = torch.randn(2, 5, 5)
    with torch.no_grad():
        layer.pair_bias.copy_(bias)
        expected = torch.softmax(torch.einsum("bmhd,bkhd->bhmk", q, k) + PAIR_BIAS_GAIN * bias,
                                 dim=-1)
        torch.testing.assert_close(layer.attend(q, k), expected)
    with pytest.raises(ValueError, match="field_pair_bias must be one of"):
        AutoIntNet(30, 5, field_pair_bias="first")
    with pytest.raises(ValueError, match="pair_bias=True needs n_fields"):
        InteractingLayer(4, 3, pair_bias=True)


@pytest.mark.parametrize("n_fields", [1, 5, 15, 16, 39])
@pytest.mark.parametrize("grad", [True, False])
def test_softmax_last_matches_torch_in_value_and_gradient(n_fields, grad):
    # Below SHORT_AXIS fields the CPU path is our own arithmetic: it must be torch's softmax.
    generator = torch.Generator().manual_seed(n_fields)
    scores = 5 * torch.randn(64, 2, n_fields, n_fields, generator=generator)
    weights = torch.randn(64, 2, n_fields, n_fields, generator=generator)
    ours_in = scores.clone().requires_grad_(grad)
    torch_in = scores.clone().requires_grad_(grad)
    ours, expected = softmax_last(ours_in), torch.softmax(torch_in, dim=-1)
    torch.testing.assert_close(ours, expected, rtol=1e-6, atol=1e-7)
    if grad:
        (ours * weights).sum().backward()
        (expected * weights).sum().backward()
        torch.testing.assert_close(ours_in.grad, torch_in.grad, rtol=1e-5, atol=2e-6)


def test_softmax_last_gradient_is_exact_in_float64():
    scores = torch.randn(3, 2, 7, 7, dtype=torch.float64, requires_grad=True)
    assert SHORT_AXIS > 7
    assert torch.autograd.gradcheck(softmax_last, (scores,))


@pytest.mark.parametrize("n_fields", [5, 20, 39])
def test_softmax_last_keeps_half_precision_and_rounds_the_float32_softmax(n_fields):
    scores = torch.randn(8, 2, n_fields, n_fields).to(torch.bfloat16)
    ours = softmax_last(scores)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), torch.softmax(scores.float(), dim=-1),
                               atol=4e-3, rtol=8e-3)
