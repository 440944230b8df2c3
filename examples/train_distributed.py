"""
Data-parallel training with torchrun
====================================

One network trained by several processes at once, each on its own share of the rows, with
``distributed=True``: every step averages the gradients of all processes
(``torch.distributed``), so the processes hold the same network throughout. Start it with
``torchrun``, which runs this script once per process and tells each its rank::

    torchrun --nproc-per-node 2 examples/train_distributed.py

Use one process per GPU (``device="cuda"``: each takes the GPU of its ``LOCAL_RANK``, and
NCCL carries the gradients), or on CPUs one process per socket or machine; across machines,
add ``--nnodes`` and ``--rdzv-endpoint`` as the torchrun documentation says. Every process
ends with the same fitted estimator; process 0 reports and saves it.

The share of rows is the script's business: here every process reads UCI Adult and keeps
every ``world_size``-th row; with data in many files, each process would read its own files.
"""

import argparse
import os

import joblib
from sklearn.metrics import roc_auc_score

from skautoint import AutoIntClassifier
from skautoint.datasets import load_adult


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--batch-size", type=int, default=128,
                        help="rows per step in each process (default: 128)")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--embedding-update", choices=["auto", "dense", "touched"],
                        default="auto")
    parser.add_argument("--save", metavar="PATH",
                        help="joblib file for the fitted model ({rank} is replaced)")
    args = parser.parse_args()

    rank = int(os.environ.get("RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    X, y = load_adult(return_X_y=True)
    X_test, y_test = load_adult(subset="test", return_X_y=True)

    model = AutoIntClassifier(batch_size=args.batch_size, max_epochs=args.max_epochs,
                              embedding_update=args.embedding_update, random_state=0,
                              distributed=world_size > 1, verbose=1)
    model.fit(X.iloc[rank::world_size], y.iloc[rank::world_size])

    if args.save:
        joblib.dump(model, args.save.format(rank=rank))
    if rank == 0:
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        print(f"{world_size} process(es), {args.batch_size} rows per step each: "
              f"{model.n_iter_} epochs, test ROC AUC {auc:.4f}")


if __name__ == "__main__":
    main()
