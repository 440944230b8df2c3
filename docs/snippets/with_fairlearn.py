"""fairlearn: measure by group, then post-process to equalise selection rates."""
from fairlearn.metrics import MetricFrame, selection_rate
from fairlearn.postprocessing import ThresholdOptimizer

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
X_test, y_test = load_adult(subset="test", return_X_y=True)
X, y, X_test, y_test = X.iloc[:3000], y.iloc[:3000], X_test.iloc[:2000], y_test.iloc[:2000]
high = (y == ">50K").astype(int)  # fairlearn wants 0/1 labels
model = AutoIntClassifier(max_epochs=5, random_state=0).fit(X, high)

by_sex = MetricFrame(metrics=selection_rate, y_true=y_test == ">50K",
                     y_pred=model.predict(X_test), sensitive_features=X_test["sex"])
fair = ThresholdOptimizer(estimator=model, constraints="demographic_parity", prefit=True,
                          predict_method="predict_proba")
fair.fit(X, high, sensitive_features=X["sex"])
after = MetricFrame(metrics=selection_rate, y_true=y_test == ">50K",
                    y_pred=fair.predict(X_test, sensitive_features=X_test["sex"],
                                        random_state=0),
                    sensitive_features=X_test["sex"])
print("selection rate by sex, before:", by_sex.by_group.round(3).to_dict(),
      "after:", after.by_group.round(3).to_dict())
