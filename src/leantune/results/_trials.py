"""trials.csv / trials.parquet: one schema for the writer and every reader."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from leantune.trials._keys import FOLDS_DONE, STEPS_DONE, STEPS_PLANNED, TRIAL_ID

if TYPE_CHECKING:
    import pandas as pd


# Columns every reader may count on, present (maybe empty) even in an old or empty table.
REQUIRED_COLUMNS = (TRIAL_ID, "model", "batch_size", "learning_rate", "alpha", "status")
# Columns that hold whole numbers or text even where a trial has none: without a dtype, a
# missing value turns integers into floats and empty text into NaN in trials.parquet.
INTEGER_COLUMNS = ("stop_step", STEPS_DONE, STEPS_PLANNED, FOLDS_DONE, "attempts")
TEXT_COLUMNS = (
    TRIAL_ID,
    "model",
    "status",
    "stop_reason",
    "stop_rule",
    "stop_label",
    "stop_metric",
    "late_stop",
    "error",
    "node_id",
)
TIME_COLUMNS = ("started_at", "ended_at")


def typed_trials(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with the schema's dtypes, as the writer stores it."""
    import pandas as pd

    if frame.empty:
        return frame
    for column in INTEGER_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("string")
    for column in TIME_COLUMNS:
        if column in frame and not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


def read_trials_table(parquet: Path, csv: Path) -> pd.DataFrame:
    """The table as written (parquet keeps its dtypes; the CSV is read back to the same
    schema): every required column present, text columns without NaN."""
    import pandas as pd

    if parquet.is_file():
        frame = pd.read_parquet(parquet)
    elif csv.is_file() and csv.stat().st_size > 0:
        try:
            frame = pd.read_csv(csv, dtype={TRIAL_ID: str})
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
    else:
        frame = pd.DataFrame()
    for column in REQUIRED_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].fillna("").astype(str)
    return frame
