"""skautoint: AutoInt (self-attentive feature interactions) as a scikit-learn estimator."""

__version__ = "0.1.0"

from . import exceptions, inspection, out_of_core, persistence
from ._estimators import AutoIntClassifier
from ._fields import FieldTransformer, make_field_transformer

__all__ = [
    "AutoIntClassifier",
    "FieldTransformer",
    "__version__",
    "exceptions",
    "inspection",
    "make_field_transformer",
    "out_of_core",
    "persistence",
]
