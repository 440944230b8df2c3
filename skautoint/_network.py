"""The AutoInt network in pure torch: field embedding, interacting layers, output heads.

Input is the uniform lookup of DESIGN.md: ``index`` (int64, ``[n, F]``, already offset into one
shared table) and ``value`` (float32, ``[n, F]``). One gather and one multiply embed every field;
multi-head self-attention over the fields of a row runs as batched einsums. Nothing here knows
pandas or scikit-learn.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AutoIntNet", "FieldEmbedding", "InteractingLayer"]


class FieldEmbedding(nn.Module):
    """One embedding table shared by all fields: ``E[index] * value``.

    Parameters
    ----------
    n_rows : int
        Rows of the shared table (the sum of every field's rows).
    embedding_dim : int
        Width of each row.
    init_std : float, default=0.01
        Standard deviation of the normal initialisation.
    """

    def __init__(self, n_rows, embedding_dim, init_std=0.01):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_rows, embedding_dim))
        nn.init.normal_(self.weight, std=init_std)
        # Set by training's touched-rows update for one step: (position of each index among
        # the batch's distinct rows, a leaf copy of those rows); gradients then reach the
        # copy only, never a dense table-sized tensor.
        self.batch_rows = None

    def forward(self, index, value):
        """Embed every field of every row.

        Parameters
        ----------
        index : Tensor of int64, shape (batch, n_fields)
        value : Tensor of float32, shape (batch, n_fields)

        Returns
        -------
        Tensor of shape (batch, n_fields, embedding_dim)
        """
        if self.batch_rows is not None:
            position, rows = self.batch_rows
            return F.embedding(position, rows) * value.unsqueeze(-1)
        return F.embedding(index, self.weight) * value.unsqueeze(-1)


class InteractingLayer(nn.Module):
    """Multi-head self-attention across the fields of one row (one AutoInt interacting layer).

    Per head ``h``: ``a_mk = softmax_k(<W_Q e_m, W_K e_k>)``, ``e~_m = sum_k a_mk W_V e_k``; the
    heads are concatenated and, with ``residual``, added to ``W_res e_m`` before a ReLU.

    Parameters
    ----------
    input_dim : int
        Width of each field's input vector.
    attention_dim : int, default=32
        Width of each head (``d'`` in the paper).
    n_heads : int, default=2
        Number of attention heads.
    residual : bool, default=True
        Add the projected input ``W_res e_m`` (the paper's residual connection).
    attention_scaling : bool, default=False
        Divide the attention logits by ``sqrt(attention_dim)`` (scaled dot product).
    layer_norm : bool, default=False
        Apply LayerNorm to the layer's output.
    dropout : float, default=0.0
        Dropout on the attention weights.
    """

    def __init__(self, input_dim, attention_dim=32, n_heads=2, *, residual=True,
                 attention_scaling=False, layer_norm=False, dropout=0.0):
        super().__init__()
        self.attention_dim = attention_dim
        self.n_heads = n_heads
        self.attention_scaling = attention_scaling
        self.output_dim = attention_dim * n_heads
        # Fused W_Q, W_K, W_V: output features laid out as (3, n_heads, attention_dim).
        self.qkv = nn.Linear(input_dim, 3 * self.output_dim, bias=False)
        self.residual = nn.Linear(input_dim, self.output_dim, bias=False) if residual else None
        self.norm = nn.LayerNorm(self.output_dim) if layer_norm else None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x):
        """Apply the layer.

        Parameters
        ----------
        x : Tensor of shape (batch, n_fields, input_dim)

        Returns
        -------
        out : Tensor of shape (batch, n_fields, n_heads * attention_dim)
        attention : Tensor of shape (batch, n_heads, n_fields, n_fields)
            Attention weights; each row sums to 1 over the last axis.
        """
        batch, n_fields, _ = x.shape
        q, k, v = self.qkv(x).view(batch, n_fields, 3, self.n_heads, self.attention_dim).unbind(2)
        scores = torch.einsum("bmhd,bkhd->bhmk", q, k)
        if self.attention_scaling:
            scores = scores / math.sqrt(self.attention_dim)
        attention = torch.softmax(scores, dim=-1)
        mixed = attention if self.dropout is None else self.dropout(attention)
        out = torch.einsum("bhmk,bkhd->bmhd", mixed, v).reshape(batch, n_fields, self.output_dim)
        if self.residual is not None:
            out = out + self.residual(x)
        out = F.relu(out)
        if self.norm is not None:
            out = self.norm(out)
        return out, attention


def _mlp(input_dim, hidden_units, output_dim, dropout):
    layers, width = [], input_dim
    for units in hidden_units:
        layers += [nn.Linear(width, units), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = units
    layers.append(nn.Linear(width, output_dim))
    return nn.Sequential(*layers)


class AutoIntNet(nn.Module):
    """AutoInt: field embedding, stacked interacting layers, flatten and a linear output.

    Parameters
    ----------
    n_rows : int
        Rows of the shared embedding table.
    n_fields : int
        Fields per row.
    n_outputs : int, default=1
        Logits per row (1 for binary classification, the number of classes otherwise).
    embedding_dim : int, default=16
        Width of every field embedding.
    n_layers : int, default=3
        Number of stacked interacting layers (0 feeds the embeddings straight to the output).
    n_heads : int, default=2
        Attention heads per layer.
    attention_dim : int, default=32
        Width of each head.
    residual : bool, default=True
        Projected residual connection in every layer.
    attention_scaling : bool, default=False
        Scaled dot-product attention.
    layer_norm : bool, default=False
        LayerNorm after every layer.
    linear_term : bool, default=False
        Add a first-order term: one learned weight per table row, summed over fields.
    mlp_hidden_units : tuple of int, default=()
        Non-empty adds a plain MLP on the concatenated embeddings to the logits (AutoInt+).
    dropout : float, default=0.0
        Dropout on attention weights and in the MLP branch.
    """

    def __init__(self, n_rows, n_fields, n_outputs=1, *, embedding_dim=16, n_layers=3, n_heads=2,
                 attention_dim=32, residual=True, attention_scaling=False, layer_norm=False,
                 linear_term=False, mlp_hidden_units=(), dropout=0.0):
        super().__init__()
        self.embedding = FieldEmbedding(n_rows, embedding_dim)
        layers, width = [], embedding_dim
        for _ in range(n_layers):
            layer = InteractingLayer(
                width, attention_dim, n_heads, residual=residual,
                attention_scaling=attention_scaling, layer_norm=layer_norm, dropout=dropout,
            )
            layers.append(layer)
            width = layer.output_dim
        self.layers = nn.ModuleList(layers)
        self.output = nn.Linear(n_fields * width, n_outputs)
        self.linear = FieldEmbedding(n_rows, n_outputs, init_std=0.0) if linear_term else None
        self.mlp = (
            _mlp(n_fields * embedding_dim, mlp_hidden_units, n_outputs, dropout)
            if mlp_hidden_units
            else None
        )

    def forward(self, index, value, return_attention=False):
        """Compute the logits.

        Parameters
        ----------
        index : Tensor of int64, shape (batch, n_fields)
        value : Tensor of float32, shape (batch, n_fields)
        return_attention : bool, default=False
            Also return every layer's attention weights.

        Returns
        -------
        logits : Tensor of shape (batch, n_outputs)
        attention : list of Tensor of shape (batch, n_heads, n_fields, n_fields)
            Only when ``return_attention`` is true.
        """
        embedded = self.embedding(index, value)
        x, attention = embedded, []
        for layer in self.layers:
            x, weights = layer(x)
            attention.append(weights)
        logits = self.output(x.flatten(1))
        if self.linear is not None:
            logits = logits + self.linear(index, value).sum(dim=1)
        if self.mlp is not None:
            logits = logits + self.mlp(embedded.flatten(1))
        return (logits, attention) if return_attention else logits
