"""A deliberately plain AutoInt in PyTorch: the baseline of ``bench_speed.py``.

Written the way a tutorial would write it, with no attention to speed: one ``nn.Embedding`` per
categorical field (a Python loop over the fields), separate ``W_Q``, ``W_K``, ``W_V`` and
``W_res`` linear layers, einsum attention, and batches from a ``DataLoader`` over a
``TensorDataset``. It takes inputs already encoded by :func:`encode` (integer codes and
floats), so its training time does not include any encoding.
"""

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def encode(X_train, X_test, categorical, continuous):
    """Codes and values for :class:`ReferenceAutoInt`.

    Categorical columns: ``pandas.factorize`` on the training rows, shifted by one so that code
    0 means missing or unseen in training. Continuous columns: ``log1p``, missing as 0.

    Returns
    -------
    train, test : tuple of (codes int64 (n, n_categorical), values float32 (n, n_continuous))
    cardinalities : list of int
        Embedding rows per categorical column (levels + 1).
    """
    train_codes, test_codes, cardinalities = [], [], []
    for column in categorical:
        codes, levels = pd.factorize(X_train[column])
        train_codes.append(codes + 1)
        test_codes.append(pd.Index(levels).get_indexer(X_test[column]) + 1)
        cardinalities.append(len(levels) + 1)

    def values(X):
        x = X[continuous].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.nan_to_num(np.log1p(x)).astype(np.float32)

    def codes(columns, n_rows):
        return np.stack(columns, axis=1).astype(np.int64) if columns else np.zeros((n_rows, 0),
                                                                                   np.int64)

    train = codes(train_codes, len(X_train)), values(X_train)
    test = codes(test_codes, len(X_test)), values(X_test)
    return train, test, cardinalities


class AttentionLayer(nn.Module):
    """One interacting layer: multi-head self-attention over fields, residual, ReLU."""

    def __init__(self, input_dim, attention_dim, n_heads):
        super().__init__()
        self.attention_dim, self.n_heads = attention_dim, n_heads
        width = attention_dim * n_heads
        self.W_Q = nn.Linear(input_dim, width, bias=False)
        self.W_K = nn.Linear(input_dim, width, bias=False)
        self.W_V = nn.Linear(input_dim, width, bias=False)
        self.W_res = nn.Linear(input_dim, width, bias=False)

    def forward(self, x):
        """``x``: (batch, fields, input_dim) -> (batch, fields, n_heads * attention_dim)."""
        batch, fields, _ = x.shape
        shape = (batch, fields, self.n_heads, self.attention_dim)
        q, k, v = self.W_Q(x).view(shape), self.W_K(x).view(shape), self.W_V(x).view(shape)
        attention = torch.softmax(torch.einsum("bmhd,bkhd->bhmk", q, k), dim=-1)
        mixed = torch.einsum("bhmk,bkhd->bmhd", attention, v).reshape(batch, fields, -1)
        return torch.relu(mixed + self.W_res(x))


class ReferenceAutoInt(nn.Module):
    """AutoInt: per-field embeddings, value-scaled continuous vectors, interacting layers,
    flatten and a linear output (one logit)."""

    def __init__(self, cardinalities, n_continuous, *, embedding_dim=16, n_layers=3, n_heads=2,
                 attention_dim=16):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(k, embedding_dim) for k in cardinalities)
        for embedding in self.embeddings:
            nn.init.normal_(embedding.weight, std=0.01)
        self.continuous = nn.Parameter(0.01 * torch.randn(n_continuous, embedding_dim))
        layers, width = [], embedding_dim
        for _ in range(n_layers):
            layers.append(AttentionLayer(width, attention_dim, n_heads))
            width = attention_dim * n_heads
        self.layers = nn.ModuleList(layers)
        self.output = nn.Linear((len(cardinalities) + n_continuous) * width, 1)

    def forward(self, codes, values):
        """Logits of shape (batch,) from codes (batch, n_categorical) and values
        (batch, n_continuous)."""
        fields = [embedding(codes[:, j]) for j, embedding in enumerate(self.embeddings)]
        x = torch.cat([torch.stack(fields, dim=1), values.unsqueeze(-1) * self.continuous],
                      dim=1)
        for layer in self.layers:
            x = layer(x)
        return self.output(x.flatten(1))[:, 0]


def fit(model, codes, values, y, *, epochs, batch_size, learning_rate, seed):
    """Train ``model`` with Adam on shuffled DataLoader batches and mean log-loss."""
    data = TensorDataset(torch.from_numpy(codes), torch.from_numpy(values),
                         torch.as_tensor(y, dtype=torch.float32))
    loader = DataLoader(data, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_function = nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        for batch_codes, batch_values, batch_y in loader:
            optimizer.zero_grad()
            loss = loss_function(model(batch_codes, batch_values), batch_y)
            loss.backward()
            optimizer.step()
    return model


def predict_proba(model, codes, values, batch_size=4096):
    """Positive-class probabilities, in batches, without autograd."""
    model.eval()
    codes, values = torch.from_numpy(codes), torch.from_numpy(values)
    with torch.no_grad():
        logits = [model(codes[i:i + batch_size], values[i:i + batch_size])
                  for i in range(0, len(codes), batch_size)]
    return torch.sigmoid(torch.cat(logits)).numpy()
