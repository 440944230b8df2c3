"""Saved by skautoint 0.1.0 at commit 9fa5e12 (FieldTransformer still a ColumnTransformer)."""
import warnings

import joblib
import numpy as np

from skautoint import make_field_transformer
from skautoint.datasets import load_adult


def save_fields(fields, path):
    """The frame as plain arrays, readable by any pandas (a pandas pickle is not)."""
    coded = [str(dtype) == "category" for dtype in fields.dtypes]
    columns = [fields[name] for name in fields.columns]
    n = len(fields)
    np.savez_compressed(
        path, columns=np.array(fields.columns, dtype=str), coded=np.array(coded),
        n_categories=np.array([len(c.cat.categories) if k else 0
                               for c, k in zip(columns, coded, strict=True)]),
        codes=np.column_stack([c.cat.codes.to_numpy(np.int64) if k else np.zeros(n, np.int64)
                               for c, k in zip(columns, coded, strict=True)]),
        values=np.column_stack([np.full(n, np.nan, np.float32) if k else c.to_numpy(np.float32)
                                for c, k in zip(columns, coded, strict=True)]))


X, y = load_adult(return_X_y=True)
default = make_field_transformer().fit(X[:2000])
joblib.dump(default, "tests/data/adult_field_transformer_format1.joblib", compress=3)
save_fields(default.transform(X.iloc[:200]), "tests/data/adult_fields_format1.npz")
embed = make_field_transformer(
    ["workclass", "education", "education_num", "marital_status", "occupation", "relationship",
     "race", "sex", "native_country"],
    "embed", continuous_overrides={"age": "bucketize"}, min_frequency=5, max_categories=12,
    n_bins=8)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # max_categories merges levels, with a warning
    embed.fit(X[:2000])
joblib.dump(embed, "tests/data/adult_field_transformer_embed_format1.joblib", compress=3)
save_fields(embed.transform(X.iloc[:200]), "tests/data/adult_fields_embed_format1.npz")
