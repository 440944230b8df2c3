"""MLflow: log the fitted classifier with the sklearn flavour, load it back as a pyfunc."""
import tempfile

import mlflow
import numpy as np

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult
from skautoint.persistence import SKOPS_TRUSTED_TYPES

X, y = load_adult(return_X_y=True)
X, y = X.iloc[:2000], y.iloc[:2000]
model = AutoIntClassifier(max_epochs=3, random_state=0).fit(X, y)

# the schema MLflow infers from the example: floats, so that a number may be missing later
numbers_as_floats = dict.fromkeys(X.select_dtypes("number").columns, "float64")
with tempfile.TemporaryDirectory() as store:  # a local store; a tracking server in practice
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    experiment = mlflow.create_experiment("skautoint", artifact_location=f"{store}/artifacts")
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_params(model.get_params())
        mlflow.log_metric("valid_loss",
                          model.history_[model.best_iteration_ - 1]["valid_loss"])
        # skops instead of pickle: loading checks every type against the trusted list
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="skops",
                                        skops_trusted_types=SKOPS_TRUSTED_TYPES,
                                        input_example=X.head(3).astype(numbers_as_floats))

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    rows = X.head(100).astype(numbers_as_floats)  # what the schema asks for
    same = np.array_equal(loaded.predict(rows), model.predict(X.head(100)))
    print("same predictions:", same)
