"""scikit-learn's own estimator checks, for the classifier, the regressor and the field
transformer."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skautoint import AutoIntClassifier, AutoIntRegressor, FieldTransformer, make_field_transformer

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "Minibatch training: a weight of 2 is not the same as a repeated row, since batches, "
        "their order and the number of steps differ (scikit-learn expects the same failure of "
        "its own SGD, MLP and HistGradientBoosting estimators)."
    ),
}

# Small but fully trained settings, so the ~60 checks (each fitting several times) stay fast;
# check_classifiers_train still needs real accuracy (> 0.83) from them.
CHECKED_CLASSIFIER = AutoIntClassifier(
    max_epochs=30, batch_size=32, embedding_dim=8, attention_dim=8, random_state=0
)
# check_regressors_train needs R² > 0.5 on 200 rows of rounded features (0.46 after 30
# epochs of ~6 steps, 0.80 when early stopping ends it at epoch 70).
CHECKED_REGRESSOR = AutoIntRegressor(
    max_epochs=100, batch_size=32, embedding_dim=8, attention_dim=8, random_state=0
)


# The transformer is checked in its "embed" configuration: with bucketized columns its output
# holds several category columns of one identical dtype, which pandas turns into an *object*
# array under np.asarray, and check_pipeline_consistency's numeric comparison cannot read that.
# test_fields.py checks the bucketize configuration's consistency on the frames themselves.
CHECKED_TRANSFORMER = make_field_transformer(continuous="embed")


# Built directly, with bucketized columns: its output is a frame of category columns (its own
# container, under "default" too), which the checks below compare as numbers after
# np.asarray, an object array. The frames themselves are compared in test_fields.py.
BUCKETIZING_TRANSFORMER = FieldTransformer()
OBJECT_ARRAY_CHECKS = dict.fromkeys(
    ["check_pipeline_consistency", "check_estimators_pickle",
     "check_transformer_data_not_an_array", "check_transformer_general",
     "check_methods_sample_order_invariance", "check_methods_subset_invariance",
     "check_fit_idempotent"],
    "its category-column output is an object array under np.asarray, which the check's "
    "numeric comparison (np.isfinite) cannot read",
)


def _expected_failures(estimator):
    if isinstance(estimator, (AutoIntClassifier, AutoIntRegressor)):
        return EXPECTED_FAILED_CHECKS
    if estimator is BUCKETIZING_TRANSFORMER:
        return OBJECT_ARRAY_CHECKS
    return {}


@parametrize_with_checks(
    [CHECKED_CLASSIFIER, CHECKED_REGRESSOR, CHECKED_TRANSFORMER, BUCKETIZING_TRANSFORMER],
    expected_failed_checks=_expected_failures,
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
