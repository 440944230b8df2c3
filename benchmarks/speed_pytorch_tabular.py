"""pytorch-tabular's AutoInt for ``bench_speed.py``, run in pytorch-tabular's own venv.

pytorch-tabular 1.2 needs pandas < 3, so it cannot share the project's venv: ``bench_speed.py``
writes the encoded rows to an ``.npz`` file and runs this script with the venv's Python (see
``benchmarks/README.md``). One fit and one prediction; prints one JSON line with the seconds
and the test probabilities.

Settings matched to the paper configuration: all 13 continuous and 26 categorical columns in
the attention, embedding 16, ``attn_embed_dim=32`` (2 heads of 16), 3 attention blocks with
residuals, no deep layers, no batch norm of the numbers, batch 1024, Adam 1e-3, the given
epochs, no early stopping, no checkpoints, no validation beyond the minimum it requires.

Usage: ``python speed_pytorch_tabular.py DATA.npz SEED EPOCHS THREADS``.
"""

import json
import logging
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch


def frame(codes, values, y=None):
    """The DataFrame pytorch-tabular takes: C1..C26 integer codes, I1..I13 floats."""
    data = {f"C{j + 1}": codes[:, j] for j in range(codes.shape[1])}
    data.update({f"I{j + 1}": values[:, j] for j in range(values.shape[1])})
    if y is not None:
        data["label"] = y
    return pd.DataFrame(data)


def main():
    path, seed, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from pytorch_tabular import TabularModel
    from pytorch_tabular.config import DataConfig, OptimizerConfig, TrainerConfig
    from pytorch_tabular.models import AutoIntConfig

    arrays = np.load(path)
    train = frame(arrays["train_codes"], arrays["train_values"], arrays["y_train"])
    test = frame(arrays["test_codes"], arrays["test_values"])
    categorical = [c for c in train.columns if c.startswith("C")]
    continuous = [c for c in train.columns if c.startswith("I")]

    start = time.perf_counter()
    model = TabularModel(
        data_config=DataConfig(target=["label"], continuous_cols=continuous,
                               categorical_cols=categorical, normalize_continuous_features=False),
        model_config=AutoIntConfig(task="classification", embedding_dim=16, attn_embed_dim=32,
                                   num_heads=2, num_attn_blocks=3, has_residuals=True,
                                   deep_layers=False, batch_norm_continuous_input=False,
                                   learning_rate=1e-3, seed=seed),
        optimizer_config=OptimizerConfig(optimizer="Adam"),
        trainer_config=TrainerConfig(batch_size=1024, max_epochs=epochs, min_epochs=epochs,
                                     accelerator="cpu", early_stopping=None, checkpoints=None,
                                     load_best=False, progress_bar="none", seed=seed,
                                     trainer_kwargs={"enable_model_summary": False}),
        verbose=False,
    )
    # It takes a validation frame or splits one off; a tiny one keeps the work comparable.
    model.fit(train=train, validation=train.iloc[:1024], seed=seed)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(test)
    predict_s = time.perf_counter() - start
    proba = predicted["label_1_probability"].to_numpy()
    print(json.dumps({"fit s": fit_s, "predict s": predict_s, "proba": proba.tolist()}))


if __name__ == "__main__":
    main()
