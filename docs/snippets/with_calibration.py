"""Calibration and threshold tuning: scikit-learn's meta-estimators take the classifier."""
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import balanced_accuracy_score, brier_score_loss
from sklearn.model_selection import TunedThresholdClassifierCV

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
X_test, y_test = load_adult(subset="test", return_X_y=True)
X, y, X_test, y_test = X.iloc[:3000], y.iloc[:3000], X_test.iloc[:2000], y_test.iloc[:2000]
model = AutoIntClassifier(max_epochs=5, random_state=0)

calibrated = CalibratedClassifierCV(model, method="isotonic", cv=3).fit(X, y)
brier = brier_score_loss(y_test == ">50K", calibrated.predict_proba(X_test)[:, 1])

# the cut-off that maximises balanced accuracy instead of 0.5 (few positives in Adult)
tuned = TunedThresholdClassifierCV(model, scoring="balanced_accuracy", cv=3).fit(X, y)
balanced = balanced_accuracy_score(y_test, tuned.predict(X_test))
print(f"Brier score {brier:.3f}; threshold {tuned.best_threshold_:.2f}, "
      f"balanced accuracy {balanced:.3f}")
