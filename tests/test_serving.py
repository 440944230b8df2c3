"""ONNX export of the network: onnxruntime reproduces predict_proba on real data."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skautoint import AutoIntClassifier, make_field_transformer
from skautoint.serving import onnx_inputs, to_onnx

onnxruntime = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

SMALL = dict(max_epochs=2, random_state=0)


def _session(proto):
    onnx.checker.check_model(proto)
    return onnxruntime.InferenceSession(proto.SerializeToString(),
                                        providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("params", [{}, {"continuous": "embed", "linear_term": True,
                                         "mlp_hidden_units": (32,),
                                          "layer_norm": "after_activation"}])
def test_onnx_probabilities_match_predict_proba_on_adult(adult_small, params):
    X, y, X_test, _ = adult_small
    clf = AutoIntClassifier(**SMALL, **params).fit(X, y)
    session = _session(to_onnx(clf, X.iloc[:7]))
    proba = session.run(None, onnx_inputs(clf, X_test))[0]  # 1,000 rows; traced on 7
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), atol=1e-5, rtol=0)


def test_onnx_export_of_a_multiclass_pipeline(adult_small):
    X, _, X_test, _ = adult_small
    pipeline = make_pipeline(make_field_transformer(), AutoIntClassifier(**SMALL))
    pipeline.fit(X.drop(columns="relationship"), X["relationship"])
    X_test = X_test.drop(columns="relationship")
    proto = to_onnx(pipeline, X_test.iloc[:3])
    assert [i.name for i in proto.graph.input] == ["index", "value"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    proba = _session(proto).run(None, onnx_inputs(pipeline, X_test))[0]
    np.testing.assert_allclose(proba, pipeline.predict_proba(X_test), atol=1e-5, rtol=0)
    assert proba.shape[1] == 6


def test_to_onnx_names_what_it_expected(adult_small):
    X, _, _, _ = adult_small
    with pytest.raises(TypeError, match=r"Expected a fitted AutoIntClassifier .* got "
                                        "StandardScaler"):
        to_onnx(StandardScaler(), X)
