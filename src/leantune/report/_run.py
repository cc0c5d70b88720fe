"""A finished run directory read back: the stored results every report section is computed from.

Nothing here reruns, trains or imports Ray: a report rebuilt a year later reads these files only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from leantune.errors import LeantuneError
from leantune.results import REPORTS_FILE, SUMMARY_FILE, TRIALS_CSV, BestSummary, RunDir, Summary

HYPERPARAMETERS = ("batch_size", "learning_rate", "alpha")


@dataclass
class RunResults:
    run_dir: Path
    summary: Summary
    trials: pd.DataFrame
    ledger: dict[str, Any]
    spec: dict[str, Any]
    """The study as it ran, read through the spec model: every default filled in."""
    _reports: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict, repr=False)

    # --- what the study was --------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.summary.study or self.run_dir.name

    @property
    def dataset(self) -> dict[str, Any]:
        return self.summary.dataset.model_dump()

    @property
    def task(self) -> str:
        return self.summary.dataset.task

    @property
    def score_metric(self) -> str:
        """The validation metric configs are ranked by: val_accuracy or val_rmse."""
        if self.summary.best is not None:
            return self.summary.best.cv_metric
        return "val_accuracy" if self.task == "classification" else "val_rmse"

    @property
    def higher_is_better(self) -> bool:
        return self.score_metric != "val_rmse"

    @property
    def score_label(self) -> str:
        return self.score_metric.removeprefix("val_").upper().replace("ACCURACY", "accuracy")

    @property
    def constraints(self) -> dict[str, float]:
        return dict(self.summary.constraints)

    @property
    def objective(self) -> dict[str, str]:
        """What the pick optimized: {"metric", "mode"}; runs older than objectives ranked by
        the validation score."""
        given = self.summary.objective
        if given is not None:
            return {"metric": given.metric, "mode": given.mode}
        return {"metric": self.score_metric, "mode": "max" if self.higher_is_better else "min"}

    @property
    def objective_is_score(self) -> bool:
        return self.objective["metric"] == self.score_metric

    @property
    def quality_constraints(self) -> dict[str, dict[str, float]]:
        """{"val_accuracy": {"min": 0.8}}: judged on each trial's final CV value."""
        return dict(self.summary.quality_constraints)

    @property
    def clock(self) -> str:
        """The clock time limits were judged on; runs from before the choice used the wall."""
        return self.summary.clock

    @property
    def best(self) -> BestSummary | None:
        return self.summary.best

    @property
    def stopping_enabled(self) -> bool:
        return self.summary.search.stopping_enabled

    @property
    def method(self) -> str:
        return self.summary.search.method

    @property
    def synthetic(self) -> bool:
        return bool(self.dataset.get("synthetic"))

    @property
    def subsample(self) -> dict[str, Any] | None:
        return self.dataset.get("subsample")

    @property
    def interrupted(self) -> bool:
        return self.summary.outcome == "interrupted"

    @property
    def backend(self) -> str:
        """The training backend: sklearn (partial_fit, per-sample updates) or minibatch."""
        return str((self.spec.get("training") or {}).get("backend") or "sklearn")

    @property
    def seed(self) -> int:
        return int((self.spec.get("training") or {}).get("seed", 0) or 0)

    @cached_property
    def fold_train_rows(self) -> float:
        """Training rows in one CV fold (≈, from the recorded rows and split sizes)."""
        rows = float(self.summary.dataset.rows or math.nan)
        validation = self.spec.get("validation") or {}
        test_size = float(validation.get("test_size", 0.3))
        folds = self.summary.folds or int(validation.get("cv_folds", 5) or 1)
        n_train = rows - math.ceil(rows * test_size) if math.isfinite(rows) else math.nan
        if folds <= 1:
            holdout = float(validation.get("holdout_size", 0.2))
            return n_train - math.ceil(n_train * holdout) if math.isfinite(n_train) else n_train
        return n_train * (folds - 1) / folds

    # --- what happened -------------------------------------------------------------------

    def reports(self, columns: list[str]) -> pd.DataFrame:
        """The named columns of reports.parquet that exist (with trial_id), read once each."""
        key = tuple(columns)
        if key not in self._reports:
            self._reports[key] = RunDir(self.run_dir).read_reports(columns)
        return self._reports[key]


def load_run(run_dir: Path | str) -> RunResults:
    """Read a run directory written by `leantune run`. Raises LeantuneError if it is not one."""
    files = RunDir(run_dir)
    if not files.path.is_dir():
        raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} is not a directory")
    if not files.is_run:
        raise LeantuneError(
            f"RUN_DIR: {str(run_dir)!r} holds no {SUMMARY_FILE}; a leantune run directory has "
            f"{SUMMARY_FILE}, {TRIALS_CSV} and {REPORTS_FILE} (is the run still going?)"
        )
    spec = files.read_spec()
    return RunResults(
        files.path,
        files.read_summary(),
        files.read_trials(),
        files.read_ledger().as_dict(),
        spec.model_dump(mode="json") if spec is not None else {},
    )
