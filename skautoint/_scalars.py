"""Parameter values as Python scalars.

scikit-learn's parameter validation accepts NumPy scalars for int and float parameters
(``np.int8(100)`` is an ``Integral``), but NumPy arithmetic on a narrow type wraps around or
rounds: ``np.int8(100) * 2`` is ``-56``. Every validated size or rate is read through
:func:`python_scalars` before any arithmetic.
"""

import numpy as np

__all__ = ["python_scalars"]


def python_scalars(value):
    """``value`` with every NumPy scalar, also inside tuples, lists and dicts, as the Python
    ``int``, ``float`` or ``bool`` it holds.

    >>> python_scalars((np.int8(100), np.float16(0.5), "auto"))
    (100, 0.5, 'auto')
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return type(value)(python_scalars(v) for v in value)
    if isinstance(value, dict):
        return {k: python_scalars(v) for k, v in value.items()}
    return value
