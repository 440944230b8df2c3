"""Columns to fields: kind detection, the field encoders, the field transformer and FieldSpec.

Every input column becomes one *field*. A field is *coded* (an integer code per row, looked up in
an embedding table), *embedded* (a float per row that scales one learned vector) or
*multi-valued* (a bag of codes per row with pooling weights). The field transformer turns raw
columns into these forms; :class:`FieldSpec` turns its output into the two arrays the network
consumes (``index`` and ``value``). Nothing here imports torch.

The modules, one concern each: ``_input`` (input checks, column access), ``_kinds`` (which
columns become which kind of field), ``_coded`` (the shared base of the encoders that emit
codes), ``_categorical`` (categorical levels and the reserved codes), ``_multivalued``
(columns whose cells are bags of levels: padded blocks of codes and weights), ``_numeric``
(scaling and bucketing of continuous columns), ``_target`` (target statistics of
categorical columns), ``_transformer`` (:class:`FieldTransformer`)
and ``_spec`` (:class:`FieldSpec`). Every name is re-exported here; models saved by skautoint
0.1.0, when this package was one module, name their classes ``skautoint._fields.X`` and load
through these.
"""

from ._categorical import (
    MISSING_CODE,
    N_RESERVED,
    RARE_CODE,
    UNKNOWN_CODE,
    CategoricalFieldEncoder,
)
from ._input import as_pandas, check_field_input
from ._kinds import CONTINUOUS_STRATEGIES, FieldSelector, is_coded_dtype, resolve_field_kinds
from ._multivalued import EMPTY_CODE, POOLINGS, MultiValuedFieldEncoder
from ._numeric import FieldBucketizer, FieldScaler, PiecewiseLinearEncoder, auto_n_bins
from ._spec import FieldSpec, encode_fields
from ._target import TargetStatisticEncoder
from ._transformer import FieldTransformer, holds_target_statistics, make_field_transformer

__all__ = [
    "CONTINUOUS_STRATEGIES",
    "EMPTY_CODE",
    "MISSING_CODE",
    "N_RESERVED",
    "POOLINGS",
    "RARE_CODE",
    "UNKNOWN_CODE",
    "CategoricalFieldEncoder",
    "FieldBucketizer",
    "FieldScaler",
    "FieldSelector",
    "FieldSpec",
    "FieldTransformer",
    "MultiValuedFieldEncoder",
    "PiecewiseLinearEncoder",
    "TargetStatisticEncoder",
    "as_pandas",
    "auto_n_bins",
    "check_field_input",
    "encode_fields",
    "holds_target_statistics",
    "is_coded_dtype",
    "make_field_transformer",
    "resolve_field_kinds",
]
