"""Adam for the AutoInt network, with an update of the embedding tables whose cost does not
grow with the vocabulary.

torch's Adam updates every row of a table at every step: on 2 CPU cores that costs about 3 ms
per step for 100k rows of width 16 and about 3 s for 10M rows, twenty times a whole training
step. :class:`TouchedRowsAdam` updates only the rows a batch used (their distinct indices are
gathered once per step), so a step's cost follows the batch, not the table.
"""

import contextlib

import torch

from ._distributed import LOCAL
from ._network import FieldEmbedding

__all__ = ["EMBEDDING_UPDATES", "NetworkOptimizer", "TouchedRowsAdam", "resolve_embedding_update"]

EMBEDDING_UPDATES = ("auto", "dense", "touched")
#: ``embedding_update="auto"`` takes ``"touched"`` from this many table entries (rows x width)
#: on: 2**22 is 262,144 rows of width 16, where the dense update's cost starts to show.
TOUCHED_FROM_ENTRIES = 2**22


def resolve_embedding_update(embedding_update, module):
    """``"dense"`` or ``"touched"``: ``"auto"`` picks by the size of the module's tables.

    >>> from skautoint._network import AutoIntNet
    >>> resolve_embedding_update("auto", AutoIntNet(1_000, 3)), \\
    ...     resolve_embedding_update("auto", AutoIntNet(1_000_000, 3))
    ('dense', 'touched')
    """
    if embedding_update != "auto":
        return embedding_update
    entries = sum(table.weight.numel() for table in _tables(module))
    return "touched" if entries >= TOUCHED_FROM_ENTRIES else "dense"


def _tables(module):
    return [m for m in module.modules() if isinstance(m, FieldEmbedding)]


class TouchedRowsAdam:
    """Adam on the rows of embedding tables that the current batch touched.

    The moments and the parameters of a touched row follow torch's Adam exactly (same bias
    correction from the global step count, L2 penalty added to the gradient); rows the batch
    did not touch keep their values and moments (the "lazy" Adam of TensorFlow Addons).

    Parameters
    ----------
    tables : list of FieldEmbedding
        Tables to update; they share the batch's index.
    lr : float
        Step size.
    weight_decay : float, default=0.0
        L2 penalty, applied to the touched rows only.
    betas : tuple of float, default=(0.9, 0.999)
        Decay of the first and second moments.
    eps : float, default=1e-8
        Added to the root of the second moment.
    """

    def __init__(self, tables, lr, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8):
        self.tables = list(tables)
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.moments = [(torch.zeros_like(t.weight), torch.zeros_like(t.weight))
                        for t in self.tables]
        self.step_count = 0
        self._rows = None

    @contextlib.contextmanager
    def gathered(self, index, group=LOCAL):
        """Within the block the tables embed ``index`` from leaf copies of its distinct rows
        (those of every process's batch with a ``group``)."""
        rows, position = group.distinct_rows(index)
        self._rows = rows.long()  # index_copy_ takes int64 positions
        for table in self.tables:
            table.batch_rows = (position, table.weight.detach()[rows].requires_grad_())
        try:
            yield
        finally:
            for table in self.tables:
                table.batch_rows = None

    @torch.no_grad()
    def step(self):
        """Update the rows gathered for this batch from their gradients."""
        self.step_count += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1 ** self.step_count)
        root_correction = (1 - beta2 ** self.step_count) ** 0.5
        rows = self._rows
        for table, (first, second) in zip(self.tables, self.moments, strict=True):
            _, copy = table.batch_rows
            if copy.grad is None:  # the table did not reach the loss
                continue
            value, grad = copy.detach(), copy.grad
            if self.weight_decay:
                grad = grad.add(value, alpha=self.weight_decay)
            m = first[rows].mul_(beta1).add_(grad, alpha=1 - beta1)
            v = second[rows].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denominator = (v.sqrt() / root_correction).add_(self.eps)
            table.weight.index_copy_(0, rows, value.addcdiv(m, denominator, value=-step_size))
            first.index_copy_(0, rows, m)
            second.index_copy_(0, rows, v)


class NetworkOptimizer:
    """Adam over an AutoInt network: torch's Adam for the attention, output and MLP weights;
    for the embedding tables torch's Adam (``"dense"``) or :class:`TouchedRowsAdam`
    (``"touched"``).

    Parameters
    ----------
    module : AutoIntNet
        The network.
    embedding_update : {"dense", "touched"}
        How the embedding tables are updated.
    lr, weight_decay, embedding_weight_decay : float
        Step size, L2 penalty of the dense weights and of the tables.
    group : LocalGroup or ProcessGroup, default=LOCAL
        Processes training together: every step first averages the gradients over them.
    """

    def __init__(self, module, embedding_update, lr, weight_decay, embedding_weight_decay,
                 group=LOCAL):
        tables = _tables(module)
        table_weights = {id(t.weight) for t in tables}
        rest = [p for p in module.parameters() if id(p) not in table_weights]
        self.embedding_update = embedding_update
        if embedding_update == "touched":
            self.tables = TouchedRowsAdam(tables, lr, embedding_weight_decay)
            groups = [{"params": rest, "weight_decay": weight_decay}]
        else:
            self.tables = None
            # Adam's L2 penalty reaches every row at every step: a row without data in a
            # batch moves towards zero by about the learning rate, so rare levels shrink most.
            groups = [{"params": [t.weight for t in tables],
                       "weight_decay": embedding_weight_decay},
                      {"params": rest, "weight_decay": weight_decay}]
        # fused: one kernel over all parameters (about 0.3 ms less per step on 2 CPU cores)
        self.dense = torch.optim.Adam(groups, lr=lr, fused=True)
        self.group = group  # reassigned by a warm start, which may run in another job

    def set_hyperparameters(self, lr, weight_decay, embedding_weight_decay):
        """Take new settings (a warm start continues with the current parameters)."""
        for group in self.dense.param_groups:
            group["lr"] = lr
            group["weight_decay"] = weight_decay
        if self.tables is None:
            self.dense.param_groups[0]["weight_decay"] = embedding_weight_decay
        else:
            self.tables.lr, self.tables.weight_decay = lr, embedding_weight_decay

    def batch(self, index):
        """Context for one training step on rows with embedding indices ``index``."""
        return (self.tables.gathered(index, self.group) if self.tables
                else contextlib.nullcontext())

    def _gradients(self):
        grads = [p.grad for group in self.dense.param_groups for p in group["params"]]
        if self.tables is not None:
            grads += [table.batch_rows[1].grad for table in self.tables.tables]
        return [g for g in grads if g is not None]

    def zero_grad(self):
        """Drop the dense weights' gradients (the gathered rows are new every step)."""
        self.dense.zero_grad(set_to_none=True)

    def step(self):
        """Update every weight from its gradient (averaged over the processes)."""
        self.group.average(self._gradients())
        self.dense.step()
        if self.tables is not None:
            self.tables.step()
