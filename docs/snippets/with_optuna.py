"""Optuna: a search over the network's and the training's parameters."""
import optuna
from sklearn.model_selection import cross_val_score

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult

X, y = load_adult(return_X_y=True)
X, y = X.iloc[:2000], y.iloc[:2000]


def objective(trial):
    model = AutoIntClassifier(
        embedding_dim=trial.suggest_categorical("embedding_dim", [8, 16]),
        n_layers=trial.suggest_int("n_layers", 1, 3),
        learning_rate=trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        max_epochs=3, random_state=0,
    )
    return cross_val_score(model, X, y, cv=3, scoring="roc_auc").mean()


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=3)
print(study.best_params, round(study.best_value, 3))
