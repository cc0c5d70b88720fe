"""The structural keys of a trial's reports and of its row in the trials table: where it is in
its training and its cross-validated score. Metrics (memory_mb, val_accuracy, ...) are named
in `leantune.metrics`' catalogue; these are named here and nowhere else."""

from __future__ import annotations

TRIAL_ID = "trial_id"
STEPS_PLANNED = "steps_planned"
"""Steps the trial would run in all, over every fold."""
STEPS_DONE = "steps_done"
"""Steps it ran (trials table; a report says `step`)."""
PROGRESS_PCT = "progress_pct"
FOLD_FINISHED = "fold_finished"
"""A report that closes a fold carries it (True)."""
FOLDS_DONE = "folds_done"
CV_SCORE_MEAN = "cv_score_mean"
"""The validation score's mean over the folds that finished."""
CV_SCORE_STD = "cv_score_std"

STRUCTURAL_KEYS = (
    TRIAL_ID,
    STEPS_PLANNED,
    STEPS_DONE,
    PROGRESS_PCT,
    FOLD_FINISHED,
    FOLDS_DONE,
    CV_SCORE_MEAN,
    CV_SCORE_STD,
)
