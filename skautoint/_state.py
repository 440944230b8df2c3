"""The pickled state of a fitted estimator: versions, checksum, and reading older layouts.

A fitted estimator pickles its network as NumPy arrays (``module_state_``) with a CRC-32, the
skautoint version and the state format. :func:`upgrade_state` turns the state of an older
format into the current one, so a model saved by an earlier skautoint loads and predicts as
it did.
"""

import re
import warnings
import zlib

import numpy as np

from ._version import __version__
from .exceptions import InconsistentVersionWarning

__all__ = ["FORMAT1_LAYER_NORM", "FORMAT1_RESIDUAL", "STATE_FORMAT", "check_saved_version",
           "checksum", "upgrade_state"]

#: Layout of the pickled state; bumped when the layout changes. Format 1 (skautoint 0.1.0
#: before the estimator family): boolean ``residual`` / ``layer_norm``, the network's
#: ``n_rows``, no loss object. Format 2: the layer-form switches, ``table_rows``, ``_loss``.
#: Format 3: ``field_pair_bias`` (formats 1 and 2 built none), its weights stored divided by
#: ``PAIR_BIAS_GAIN = 10`` (a change of that gain is a change of format).
STATE_FORMAT = 3


def checksum(weights):
    """CRC-32 of the weight arrays, to detect corrupted model files (not tampering)."""
    crc = 0
    for name in sorted(weights):
        crc = zlib.crc32(name.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(weights[name]).view(np.uint8).ravel(), crc)
    return crc


def _version_tuple(version):
    return tuple(int(part) for part in re.findall(r"\d+", str(version))[:3])


def check_saved_version(class_name, saved_version, saved_format):
    """Refuse a state layout this version cannot read; warn when loading a newer model."""
    if saved_format is None or saved_format > STATE_FORMAT:
        raise ValueError(
            f"This {class_name} was saved by skautoint {saved_version or '(unknown)'} in state "
            f"format {saved_format}, which skautoint {__version__} cannot read (it reads "
            f"formats 1 to {STATE_FORMAT}). Load it with skautoint "
            f"{saved_version or 'as saved'}, or upgrade skautoint."
        )
    if _version_tuple(saved_version) > _version_tuple(__version__):
        warnings.warn(
            f"This {class_name} was saved by skautoint {saved_version} and is loaded by the "
            f"older skautoint {__version__}; it loads, but upgrading is safer.",
            InconsistentVersionWarning, stacklevel=4,
        )


# Format 1's boolean layer switches, as the switches that build the same layer.
FORMAT1_RESIDUAL = {True: "projected", False: "none"}
FORMAT1_LAYER_NORM = {True: "after_activation", False: "none"}


def upgrade_state(state, saved_format, make_loss):
    """The state of ``saved_format`` in the current layout (``state`` is changed in place).

    ``make_loss(state)`` builds the loss object of a format-1 state, which had none.
    """
    if saved_format == 1:
        for params in (state, state.get("module_params_")):
            if params is None:
                continue
            params["residual"] = FORMAT1_RESIDUAL[bool(params["residual"])]
            params["layer_norm"] = FORMAT1_LAYER_NORM[bool(params["layer_norm"])]
            params.update(output_projection="none", activation="relu", projection_bias=False,
                          field_bias=False)
        if "module_params_" in state:
            state["module_params_"]["table_rows"] = state["module_params_"].pop("n_rows")
        if "classes_" in state:
            state["_loss"] = make_loss(state)
    if saved_format < 3:  # no field-pair bias then, whatever today's default
        for params in (state, state.get("module_params_")):
            if params is not None:
                params.setdefault("field_pair_bias", "none")
    return state
