"""Softmax over the last axis, fast for the few fields of a typical table.

On CPU, ``torch.softmax`` over a last axis shorter than 16 is several times slower than the same
arithmetic written as whole-tensor operations (float32, 1024 rows, 2 heads, 8-14 fields: 3.5-4.5x
forward and backward together), and its bfloat16 kernel is slower than its float32 one below 32
(16-26 fields: 2.5-3x). So on CPU half-precision scores of fewer than 32 fields are taken to
float32, and float32 scores of fewer than 16 take the whole-tensor path; torch's kernel is kept
everywhere else. Measured by ``benchmarks/bench_softmax.py``.
"""

import torch

__all__ = ["HALF_IN_FLOAT32_AXIS", "SHORT_AXIS", "softmax_last"]

#: Float32 last axes shorter than this take the whole-tensor path on CPU.
SHORT_AXIS = 16
#: Half-precision last axes shorter than this are computed in float32 on CPU.
HALF_IN_FLOAT32_AXIS = 32


class _ShortSoftmax(torch.autograd.Function):
    """Softmax whose backward reuses its output: ``dx = y * (dy - sum(dy * y))``."""

    @staticmethod
    def forward(ctx, x):
        y = _short_softmax(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return y * (grad - (grad * y).sum(-1, keepdim=True))


def _short_softmax(x):
    y = (x - x.amax(-1, keepdim=True)).exp_()
    return y.div_(y.sum(-1, keepdim=True))


def softmax_last(x):
    """Softmax of ``x`` over its last axis.

    Parameters
    ----------
    x : Tensor of shape (..., n)

    Returns
    -------
    Tensor of the shape of ``x``
        Non-negative, each slice summing to 1 over the last axis; of the dtype of ``x``.
        Equal to ``torch.softmax(x, dim=-1)`` up to float rounding (a few ulps; half-precision
        results are the float32 softmax rounded once).
    """
    n = x.shape[-1]
    if x.device.type != "cpu":
        return torch.softmax(x, dim=-1)
    if x.dtype in (torch.bfloat16, torch.float16) and n < HALF_IN_FLOAT32_AXIS:
        return softmax_last(x.float()).to(x.dtype)
    if n >= SHORT_AXIS or x.dtype not in (torch.float32, torch.float64):
        return torch.softmax(x, dim=-1)
    if torch.is_grad_enabled() and x.requires_grad:
        return _ShortSoftmax.apply(x)
    return _short_softmax(x)
