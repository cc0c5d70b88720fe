"""Bring your own training function: a numpy softmax regression, tuned by leantune.

leantune hands `train` each fold's standardized data and a session; `train` calls
`session.step(loss, model)` once a step and stops when it returns True. leantune adds the
system metrics, the limits and their stopping, MLflow tracking, the ledger and the report.
The data is given in memory (`X=..., y=...`), so nothing is downloaded: it runs offline, in
about a minute on a laptop.

    python examples/custom_trainable.py [RUN_DIR]
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits

import leantune


class Softmax:
    """What leantune needs of a model: predict (and predict_proba, for the log loss)."""

    def __init__(self, n_features: int, n_classes: int):
        self.W = np.zeros((n_features, n_classes))
        self.b = np.zeros(n_classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = X @ self.W + self.b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def train(config, data, session):
    """Mini-batch SGD with an L2 penalty: `learning_rate` and `alpha` come from the search."""
    model = Softmax(data.X_train.shape[1], len(data.classes))
    rate, alpha = config["learning_rate"], config["alpha"]
    for X, y in data.batches():  # the fold's batches in leantune's seeded order
        p = model.predict_proba(X)
        loss = -np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1)).mean()
        p[np.arange(len(y)), y] -= 1.0  # ∂loss/∂logits
        model.W -= rate * (X.T @ p / len(y) + alpha * model.W)
        model.b -= rate * p.mean(axis=0)
        if session.step(loss, model):
            break
    return model


SPEC = {
    "name": "custom-trainable",
    "search": {"space": {"batch_size": [16, 128], "learning_rate": [0.01, 0.5], "alpha": [0.0001]}},
    "training": {"epochs": 3, "report_every": 20, "seed": 0},
    "validation": {"cv_folds": 3},
    # The fastest model to predict with at least 90% validation accuracy.
    "objective": {"metric": "inference_latency_ms"},
    "constraints": {"val_accuracy": {"min": 0.9}, "train_time_s": 60},
}


def main(run_dir: str | None = None, **options) -> leantune.StudyResult:
    digits = load_digits()
    spec = {**SPEC, "output": {"dir": run_dir}} if run_dir else SPEC
    result = leantune.run(spec, X=digits.data, y=digits.target, trainable=train, **options)
    print(f"best config: {result.best_config}")
    print(f"run directory: {result.run_dir}")
    return result


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
