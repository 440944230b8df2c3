"""The AutoInt network in pure torch: field embedding, interacting layers, output heads.

Input is the uniform lookup of DESIGN.md: ``index`` (int64, ``[n, F]``, already offset into one
shared table) and ``value`` (float32, ``[n, F]``). One gather and one multiply embed every field;
multi-head self-attention over the fields of a row runs as batched einsums. Nothing here knows
pandas or scikit-learn.
"""

import contextlib
import math

import torch
from torch import nn
from torch.nn import functional as F

from ._softmax import softmax_last

__all__ = [
    "ACTIVATIONS",
    "FIELD_PAIR_BIASES",
    "LAYER_NORMS",
    "OUTPUT_PROJECTIONS",
    "PAIR_BIAS_GAIN",
    "RESIDUALS",
    "AutoIntNet",
    "FieldEmbedding",
    "GeneratorDropout",
    "InteractingLayer",
    "check_layer_form",
]

#: Which interacting layers add a learned logit per head and pair of fields to their scores.
FIELD_PAIR_BIASES = ("first_layer", "all_layers", "none")

#: The field-pair biases are stored divided by this gain. Adam moves every weight by about
#: its step size per step, which is small against logits of order 1: the gain lets the bias
#: leave zero (uniform attention) within the few epochs a fit lasts.
PAIR_BIAS_GAIN = 10.0


class FieldEmbedding(nn.Module):
    """One embedding table shared by all fields: ``E[index] * value``.

    Parameters
    ----------
    table_rows : int
        Rows of the shared table (the sum of every field's rows).
    embedding_dim : int
        Width of each row.
    init_std : float, default=0.01
        Standard deviation of the normal initialisation.
    """

    def __init__(self, table_rows, embedding_dim, init_std=0.01):
        super().__init__()
        self.init_std = init_std
        self.weight = nn.Parameter(torch.empty(table_rows, embedding_dim))
        self.reset_parameters()
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

    @torch.no_grad()
    def reset_parameters(self, generator=None):
        """Draw the table from N(0, ``init_std``) (zeros when it is 0) with ``generator``."""
        if self.init_std:
            nn.init.normal_(self.weight, std=self.init_std, generator=generator)
        else:
            self.weight.zero_()


class GeneratorDropout(nn.Module):
    """Dropout whose masks come from :attr:`generator` when one is set, so that a fit's draws
    are its own (torch's ``nn.Dropout`` reads the process-global generator, shared by every
    thread).

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1).
    """

    def __init__(self, p):
        super().__init__()
        self.p = p
        #: torch.Generator on the input's device, or None for torch's global one.
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.generator is None:
            return F.dropout(x, self.p, training=True)
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)
        return x * mask / keep

    def extra_repr(self):
        return f"p={self.p}"


#: Choices of the layer-form switches (the paper's form is the first of each).
OUTPUT_PROJECTIONS = ("none", "per_field", "flattened")
RESIDUALS = ("projected", "identity", "none")
LAYER_NORMS = ("none", "after_residual", "after_activation")
ACTIVATIONS = ("relu", "none")


def layer_output_dim(input_dim, attention_dim, n_heads, output_projection):
    """Width of each field's vector after an interacting layer: the concatenated heads, or
    the input width when an output projection maps them back."""
    return input_dim if output_projection != "none" else attention_dim * n_heads


def check_layer_form(embedding_dim, attention_dim, n_heads, *, output_projection="none",
                     residual="projected", n_layers=1):
    """Raise a ValueError naming the parameters when the layer form cannot be built.

    An identity residual adds a layer's input to its output, so their widths must agree.
    """
    if n_layers == 0 or residual != "identity":
        return
    output_dim = layer_output_dim(embedding_dim, attention_dim, n_heads, output_projection)
    if output_dim != embedding_dim:
        raise ValueError(
            f"residual='identity' adds a layer's input to its output, but with "
            f"output_projection='none' the output is n_heads * attention_dim = {n_heads} * "
            f"{attention_dim} = {output_dim} wide and the input embedding_dim = "
            f"{embedding_dim}. Set output_projection='per_field' (or 'flattened'), or make "
            "n_heads * attention_dim equal embedding_dim."
        )


class InteractingLayer(nn.Module):
    """Multi-head self-attention across the fields of one row (one AutoInt interacting layer).

    Per head ``h``: ``a_mk = softmax_k(<W_Q e_m, W_K e_k> / s + b_mk)``, ``e~_m = sum_k a_mk W_V
    e_k`` (``s = sqrt(attention_dim)`` with ``attention_scaling``, else 1; ``b_mk`` a learned
    bias per head and pair of fields with ``pair_bias``, else 0); the heads are concatenated.
    Then, in order: the output projection (none; ``W_O`` per field back to the input width; or
    one dense layer over the flattened fields of the row), the residual (the projected input
    ``W_res e_m``, flattened like the output projection; the input itself; or nothing) added,
    LayerNorm when ``layer_norm="after_residual"``, the activation, LayerNorm when
    ``layer_norm="after_activation"``. The defaults are the paper's layer: ``ReLU(concat_h e~_m
    + W_res e_m)``.

    Parameters
    ----------
    input_dim : int
        Width of each field's input vector.
    attention_dim : int, default=32
        Width of each head (``d'`` in the paper).
    n_heads : int, default=2
        Number of attention heads.
    n_fields : int, default=None
        Fields per row; needed by ``output_projection="flattened"`` and ``pair_bias`` only.
    output_projection : {"none", "per_field", "flattened"}, default="none"
        Projection of the concatenated heads back to ``input_dim`` per field.
    residual : {"projected", "identity", "none"}, default="projected"
        What is added to the (projected) attention output.
    layer_norm : {"none", "after_residual", "after_activation"}, default="none"
        Where LayerNorm (over each field's vector) is applied.
    activation : {"relu", "none"}, default="relu"
        Activation after the residual sum.
    projection_bias : bool, default=False
        Biases on ``W_Q``, ``W_K``, ``W_V``, ``W_O`` and ``W_res``.
    attention_scaling : bool, default=False
        Divide the attention logits by ``sqrt(attention_dim)`` (scaled dot product).
    pair_bias : bool, default=False
        Add a learned logit per head and (attending, attended) pair of fields, zero at the
        start (stored divided by :data:`PAIR_BIAS_GAIN`).
    dropout : float, default=0.0
        Dropout on the attention weights.
    """

    def __init__(self, input_dim, attention_dim=32, n_heads=2, *, n_fields=None,
                 output_projection="none", residual="projected", layer_norm="none",
                 activation="relu", projection_bias=False, attention_scaling=False,
                 pair_bias=False, dropout=0.0):
        super().__init__()
        self.attention_dim = attention_dim
        self.n_heads = n_heads
        self.attention_scaling = attention_scaling
        self.heads_dim = attention_dim * n_heads
        self.output_dim = layer_output_dim(input_dim, attention_dim, n_heads, output_projection)
        check_layer_form(input_dim, attention_dim, n_heads, output_projection=output_projection,
                         residual=residual)
        flattened = output_projection == "flattened"
        if flattened and n_fields is None:
            raise ValueError("output_projection='flattened' needs n_fields.")
        if pair_bias and n_fields is None:
            raise ValueError("pair_bias=True needs n_fields.")
        self.pair_bias = (nn.Parameter(torch.zeros(n_heads, n_fields, n_fields)) if pair_bias
                          else None)
        # A flattened projection maps all fields of a row at once: widths times n_fields.
        per_row = n_fields if flattened else 1
        # Fused W_Q, W_K, W_V: output features laid out as (3, n_heads, attention_dim).
        self.qkv = nn.Linear(input_dim, 3 * self.heads_dim, bias=projection_bias)
        self.output_projection = (
            nn.Linear(per_row * self.heads_dim, per_row * self.output_dim, bias=projection_bias)
            if output_projection != "none" else None
        )
        self.flattened = flattened
        self.residual = (
            nn.Linear(per_row * input_dim, per_row * self.output_dim, bias=projection_bias)
            if residual == "projected" else None
        )
        self.identity_residual = residual == "identity"
        self.norm = nn.LayerNorm(self.output_dim) if layer_norm != "none" else None
        self.norm_after_activation = layer_norm == "after_activation"
        self.relu = activation == "relu"
        self.dropout = GeneratorDropout(dropout) if dropout > 0 else None

    def _project(self, linear, x):
        """Apply ``linear`` to each field's vector, or to the row's flattened fields."""
        if not self.flattened:
            return linear(x)
        batch, n_fields, _ = x.shape
        return linear(x.reshape(batch, -1)).view(batch, n_fields, -1)

    def attend(self, q, k):
        """Attention weights from queries and keys: ``softmax_k(<q_m, k_k> / s + b_mk)``.

        Parameters
        ----------
        q, k : Tensor of shape (batch, n_fields, n_heads, attention_dim)

        Returns
        -------
        Tensor of shape (batch, n_heads, n_fields, n_fields)
            Each row sums to 1 over the last axis.
        """
        scores = torch.einsum("bmhd,bkhd->bhmk", q, k)
        if self.attention_scaling:
            scores = scores / math.sqrt(self.attention_dim)
        if self.pair_bias is not None:
            scores = scores + PAIR_BIAS_GAIN * self.pair_bias
        return softmax_last(scores)

    def forward(self, x):
        """Apply the layer.

        Parameters
        ----------
        x : Tensor of shape (batch, n_fields, input_dim)

        Returns
        -------
        out : Tensor of shape (batch, n_fields, output_dim)
        attention : Tensor of shape (batch, n_heads, n_fields, n_fields)
            Attention weights; each row sums to 1 over the last axis.
        """
        batch, n_fields, _ = x.shape
        q, k, v = self.qkv(x).view(batch, n_fields, 3, self.n_heads, self.attention_dim).unbind(2)
        attention = self.attend(q, k)
        mixed = attention if self.dropout is None else self.dropout(attention)
        out = torch.einsum("bhmk,bkhd->bmhd", mixed, v).reshape(batch, n_fields, self.heads_dim)
        if self.output_projection is not None:
            out = self._project(self.output_projection, out)
        if self.residual is not None:
            out = out + self._project(self.residual, x)
        elif self.identity_residual:
            out = out + x
        if self.norm is not None and not self.norm_after_activation:
            out = self.norm(out)
        if self.relu:
            out = F.relu(out)
        if self.norm is not None and self.norm_after_activation:
            out = self.norm(out)
        return out, attention


def _pooling_matrix(slot_fields, n_fields):
    """The (n_fields, n_slots) 0/1 matrix that sums each field's slots."""
    slot_fields = torch.as_tensor(slot_fields, dtype=torch.int64)
    if slot_fields.ndim != 1 or (slot_fields.numel() and not (
            int(slot_fields.min()) >= 0 and int(slot_fields.max()) < n_fields)):
        raise ValueError(f"slot_fields must name fields 0..{n_fields - 1}, got {slot_fields}.")
    matrix = torch.zeros(n_fields, len(slot_fields))
    matrix[slot_fields, torch.arange(len(slot_fields))] = 1.0
    return matrix


def _mlp(input_dim, hidden_units, output_dim, dropout):
    layers, width = [], input_dim
    for units in hidden_units:
        layers += [nn.Linear(width, units), nn.ReLU()]
        if dropout > 0:
            layers.append(GeneratorDropout(dropout))
        width = units
    layers.append(nn.Linear(width, output_dim))
    return nn.Sequential(*layers)


class AutoIntNet(nn.Module):
    """AutoInt: field embedding, stacked interacting layers, flatten and a linear output.

    Parameters
    ----------
    table_rows : int
        Rows of the shared embedding table.
    n_fields : int
        Fields per row.
    n_outputs : int, default=1
        Raw outputs per row (1 for binary classification and regression, the number of
        classes otherwise).
    embedding_dim : int, default=16
        Width of every field embedding.
    n_layers : int, default=3
        Number of stacked interacting layers (0 feeds the embeddings straight to the output).
    n_heads : int, default=2
        Attention heads per layer.
    attention_dim : int, default=32
        Width of each head.
    output_projection, residual, layer_norm, activation, projection_bias, attention_scaling
        The form of every interacting layer; see :class:`InteractingLayer`.
    field_pair_bias : {"none", "first_layer", "all_layers"}, default="none"
        Which layers learn a logit per head and pair of fields (``pair_bias`` of
        :class:`InteractingLayer`).
    field_bias : bool, default=False
        Add a learned vector per field (a positional embedding) to every field embedding
        before the first layer.
    linear_term : bool, default=False
        Add a first-order term: one learned weight per table row (and output), summed over
        fields. Its bias is the output layer's.
    mlp_hidden_units : tuple of int, default=()
        Non-empty adds a plain MLP on the concatenated embeddings to the outputs (AutoInt+).
    dropout : float, default=0.0
        Dropout on attention weights and in the MLP branch.
    slot_fields : tuple of int, default=None
        The field of every column of ``index`` and ``value`` when multi-valued fields take
        several (their weighted level vectors are summed into the field's vector); None when
        every field takes one.
    """

    def __init__(self, table_rows, n_fields, n_outputs=1, *, embedding_dim=16, n_layers=3,
                 n_heads=2, attention_dim=32, output_projection="none", residual="projected",
                 layer_norm="none", activation="relu", projection_bias=False,
                 attention_scaling=False, field_pair_bias="none", field_bias=False,
                 linear_term=False, mlp_hidden_units=(), dropout=0.0, slot_fields=None):
        super().__init__()
        # Built on the meta device (torch's layer constructors draw their initial weights
        # from the global generator), then materialised in float32 and drawn by
        # reset_parameters; outside inference mode, whatever the caller's context.
        with torch.inference_mode(False), torch.device("meta"):
            self._build(table_rows, n_fields, n_outputs, embedding_dim, n_layers, n_heads,
                        attention_dim, output_projection, residual, layer_norm, activation,
                        projection_bias, attention_scaling, field_pair_bias, field_bias,
                        linear_term, mlp_hidden_units, dropout)
        with torch.inference_mode(False):
            self.to_empty(device="cpu").to(torch.float32)
            self.reset_parameters(torch.Generator().manual_seed(0))
            # pooling[f, s] = 1 where slot s belongs to field f: one matmul sums every bag
            self.register_buffer("pooling", None if slot_fields is None
                                 else _pooling_matrix(slot_fields, n_fields), persistent=False)

    def _build(self, table_rows, n_fields, n_outputs, embedding_dim, n_layers, n_heads,
               attention_dim, output_projection, residual, layer_norm, activation,
               projection_bias, attention_scaling, field_pair_bias, field_bias, linear_term,
               mlp_hidden_units, dropout):
        self.embedding = FieldEmbedding(table_rows, embedding_dim)
        self.field_bias = (nn.Parameter(torch.zeros(n_fields, embedding_dim)) if field_bias
                           else None)
        layers, width = [], embedding_dim
        if field_pair_bias not in FIELD_PAIR_BIASES:
            raise ValueError(f"field_pair_bias must be one of {FIELD_PAIR_BIASES}, got "
                             f"{field_pair_bias!r}.")
        for position in range(n_layers):
            layer = InteractingLayer(
                width, attention_dim, n_heads, n_fields=n_fields,
                output_projection=output_projection, residual=residual, layer_norm=layer_norm,
                activation=activation, projection_bias=projection_bias,
                attention_scaling=attention_scaling, dropout=dropout,
                pair_bias=(field_pair_bias == "all_layers"
                           or (field_pair_bias == "first_layer" and position == 0)),
            )
            layers.append(layer)
            width = layer.output_dim
        self.layers = nn.ModuleList(layers)
        self.output = nn.Linear(n_fields * width, n_outputs)
        self.linear = (FieldEmbedding(table_rows, n_outputs, init_std=0.0) if linear_term
                       else None)
        self.mlp = (
            _mlp(n_fields * embedding_dim, mlp_hidden_units, n_outputs, dropout)
            if mlp_hidden_units
            else None
        )

    @torch.no_grad()
    def reset_parameters(self, generator):
        """Draw every weight anew from ``generator`` (a ``torch.Generator`` on CPU).

        Linear layers get torch's default distribution, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
        weights and biases; the embedding tables N(0, 0.01); the linear term, field biases,
        field-pair biases and layer norms their neutral values.
        """
        for module in self.modules():
            if isinstance(module, FieldEmbedding):
                module.reset_parameters(generator)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                for parameter in (module.weight, module.bias):
                    if parameter is not None:
                        nn.init.uniform_(parameter, -bound, bound, generator=generator)
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()
            elif isinstance(module, InteractingLayer) and module.pair_bias is not None:
                module.pair_bias.zero_()
        if self.field_bias is not None:
            self.field_bias.zero_()

    @contextlib.contextmanager
    def dropout_generator(self, generator):
        """Within the block, every dropout of the network draws its masks from ``generator``."""
        dropouts = [m for m in self.modules() if isinstance(m, GeneratorDropout)]
        for dropout in dropouts:
            dropout.generator = generator
        try:
            yield
        finally:
            for dropout in dropouts:
                dropout.generator = None

    def forward(self, index, value, return_attention=False):
        """Compute the raw outputs (logits, or the standardised target).

        Parameters
        ----------
        index : Tensor of int64, shape (batch, n_slots)
        value : Tensor of float32, shape (batch, n_slots)
            One column per field, or per slot with ``slot_fields``.
        return_attention : bool, default=False
            Also return every layer's attention weights.

        Returns
        -------
        raw : Tensor of shape (batch, n_outputs)
        attention : list of Tensor of shape (batch, n_heads, n_fields, n_fields)
            Only when ``return_attention`` is true.
        """
        embedded = self.embedding(index, value)
        if self.pooling is not None:
            embedded = torch.matmul(self.pooling, embedded)
        if self.field_bias is not None:
            embedded = embedded + self.field_bias
        x, attention = embedded, []
        for layer in self.layers:
            x, weights = layer(x)
            attention.append(weights)
        raw = self.output(x.flatten(1))
        if self.linear is not None:
            raw = raw + self.linear(index, value).sum(dim=1)
        if self.mlp is not None:
            raw = raw + self.mlp(embedded.flatten(1))
        return (raw, attention) if return_attention else raw
