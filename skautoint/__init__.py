"""skautoint: AutoInt (self-attentive feature interactions) as scikit-learn estimators."""

from . import exceptions, inspection, out_of_core, persistence
from ._estimators import AutoIntClassifier, AutoIntRegressor
from ._fields import FieldTransformer, make_field_transformer
from ._version import __version__

__all__ = [
    "AutoIntClassifier",
    "AutoIntRegressor",
    "FieldTransformer",
    "__version__",
    "exceptions",
    "inspection",
    "make_field_transformer",
    "out_of_core",
    "persistence",
]
