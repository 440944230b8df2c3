"""The AutoInt network against a slow, literal implementation of the paper's equations."""

import math

import pytest
import torch

from skautoint._network import AutoIntNet, FieldEmbedding, InteractingLayer


def literal_interacting_layer(layer, e):
    """Per row, per field, per head loops over the paper's equations (5)-(8)."""
    batch, n_fields, _ = e.shape
    heads, width = layer.n_heads, layer.attention_dim
    w_qkv = layer.qkv.weight.view(3, heads, width, -1)  # (q/k/v, head, out, in)
    out = torch.zeros(batch, n_fields, heads * width, dtype=torch.float64)
    attention = torch.zeros(batch, heads, n_fields, n_fields, dtype=torch.float64)
    for b in range(batch):
        for h in range(heads):
            w_q, w_k, w_v = (w_qkv[i, h].double() for i in range(3))
            for m in range(n_fields):
                logits = torch.stack([
                    torch.dot(w_q @ e[b, m].double(), w_k @ e[b, k].double())
                    for k in range(n_fields)
                ])
                if layer.attention_scaling:
                    logits = logits / math.sqrt(width)
                a = torch.exp(logits - logits.max())
                a = a / a.sum()
                attention[b, h, m] = a
                mixed = sum(a[k] * (w_v @ e[b, k].double()) for k in range(n_fields))
                out[b, m, h * width:(h + 1) * width] = mixed
    if layer.residual is not None:
        out = out + e.double() @ layer.residual.weight.double().T
    out = torch.relu(out)
    if layer.norm is not None:
        out = torch.nn.functional.layer_norm(
            out, (heads * width,), layer.norm.weight.double(), layer.norm.bias.double(),
            layer.norm.eps,
        )
    return out, attention


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("attention_scaling", [False, True])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_interacting_layer_matches_the_paper(residual, attention_scaling, layer_norm):
    torch.manual_seed(0)
    layer = InteractingLayer(6, attention_dim=4, n_heads=3, residual=residual,
                             attention_scaling=attention_scaling, layer_norm=layer_norm)
    if layer_norm:  # non-trivial affine parameters
        torch.nn.init.normal_(layer.norm.weight)
        torch.nn.init.normal_(layer.norm.bias)
    e = torch.randn(5, 7, 6)
    out, attention = layer(e)
    expected_out, expected_attention = literal_interacting_layer(layer, e)
    torch.testing.assert_close(out.double(), expected_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attention.double(), expected_attention, atol=1e-5, rtol=1e-5)


def test_attention_weights_sum_to_one_over_fields():
    torch.manual_seed(1)
    net = AutoIntNet(n_rows=40, n_fields=9, n_layers=3)
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


@pytest.mark.parametrize("n_outputs", [1, 4])
@pytest.mark.parametrize(
    "options",
    [{}, {"linear_term": True}, {"mlp_hidden_units": (8, 4), "dropout": 0.2}, {"n_layers": 0}],
)
def test_network_output_shape_and_branches(n_outputs, options):
    torch.manual_seed(3)
    net = AutoIntNet(n_rows=30, n_fields=5, n_outputs=n_outputs, embedding_dim=4,
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


def test_every_parameter_receives_a_gradient():
    torch.manual_seed(4)
    net = AutoIntNet(n_rows=20, n_fields=4, linear_term=True, mlp_hidden_units=(8,),
                     layer_norm=True)
    net(torch.randint(0, 20, (32, 4)), torch.rand(32, 4)).sum().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert missing == []
