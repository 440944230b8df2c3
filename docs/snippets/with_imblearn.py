"""imbalanced-learn: resampling as a step of an imblearn Pipeline."""
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.metrics import recall_score

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
X_test, y_test = load_adult(subset="test", return_X_y=True)
X, y, X_test, y_test = X.iloc[:3000], y.iloc[:3000], X_test.iloc[:2000], y_test.iloc[:2000]

# the sampler sees the raw frame (strings and all) and only picks rows
balanced = make_pipeline(RandomUnderSampler(random_state=0),
                         AutoIntClassifier(max_epochs=5, random_state=0)).fit(X, y)
recall = recall_score(y_test, balanced.predict(X_test), pos_label=">50K")
print(f"recall of >50K with balanced classes: {recall:.3f}")
