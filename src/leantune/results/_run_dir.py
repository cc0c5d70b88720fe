"""`RunDir`: every path of a run directory, and a typed reader and writer for each file.

Readers (the report, the CLI, `leantune.load`, what-if, compare, replay) and the study's writer
go through it, so a file's name and shape are spelled here and nowhere else. On-disk formats are
those of docs/run-directory.md; a directory written by an older leantune reads back the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leantune.errors import LeantuneError
from leantune.results import _layout as layout
from leantune.results._files import Comparison, Ledger, ThesisIndex
from leantune.results._summary import Summary, read_summary, write_json, write_summary
from leantune.results._trials import read_trials_table
from leantune.trials import TRIAL_ID

if TYPE_CHECKING:
    import pandas as pd

    from leantune.spec import StudySpec


_MAX_SPEC_BYTES = 1 << 20


class RunDir:
    """A run directory (`leantune run`), a comparison (`--compare-stopping`: one run directory
    per arm) or a thesis directory: its paths, and each file read and written as its type."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # --- what kind of directory ----------------------------------------------------------

    @property
    def is_run(self) -> bool:
        return self.summary_file.is_file()

    @property
    def is_comparison(self) -> bool:
        return self.stopped_arm.is_run and self.unstopped_arm.is_run

    @property
    def is_thesis(self) -> bool:
        return self.thesis_file.is_file()

    # --- paths ---------------------------------------------------------------------------

    @property
    def summary_file(self) -> Path:
        return self.path / layout.SUMMARY_FILE

    @property
    def trials_csv(self) -> Path:
        return self.path / layout.TRIALS_CSV

    @property
    def trials_parquet(self) -> Path:
        return self.path / layout.TRIALS_PARQUET

    @property
    def reports_file(self) -> Path:
        return self.path / layout.REPORTS_FILE

    @property
    def ledger_file(self) -> Path:
        return self.path / layout.LEDGER_FILE

    @property
    def spec_file(self) -> Path:
        return self.path / layout.SPEC_FILE

    @property
    def model_dir(self) -> Path:
        return self.path / layout.MODEL_DIR

    @property
    def report_html(self) -> Path:
        return self.path / layout.REPORT_HTML

    @property
    def report_md(self) -> Path:
        return self.path / layout.REPORT_MD

    @property
    def report_assets(self) -> Path:
        """report/: the report's CSV tables and PNG figures."""
        return self.path / layout.REPORT_ASSETS_DIR

    @property
    def mlflow_db(self) -> Path:
        """The study's own MLflow store, when it used the default one."""
        return self.path / layout.MLFLOW_FILE

    @property
    def mlflow_artifacts(self) -> Path:
        return self.path / layout.MLFLOW_ARTIFACTS_DIR

    @property
    def state_dir(self) -> Path:
        """state/: what a resume needs; the study's driver is its only writer."""
        return self.path / layout.STATE_DIR

    @property
    def study_state_file(self) -> Path:
        return self.path / layout.STATE_STUDY_FILE

    @property
    def state_trials_dir(self) -> Path:
        return self.path / layout.STATE_TRIALS_DIR

    @property
    def trials_log(self) -> Path:
        return self.path / layout.STATE_TRIALS_LOG

    @property
    def comparison_file(self) -> Path:
        return self.path / layout.COMPARISON_FILE

    @property
    def thesis_file(self) -> Path:
        return self.path / layout.THESIS_FILE

    @property
    def stopped_arm(self) -> RunDir:
        return RunDir(self.path / layout.STOPPED_ARM)

    @property
    def unstopped_arm(self) -> RunDir:
        return RunDir(self.path / layout.UNSTOPPED_ARM)

    # --- summary.json --------------------------------------------------------------------

    def read_summary(self) -> Summary:
        return read_summary(self.path)

    def write_summary(self, summary: Summary) -> Summary:
        return write_summary(self.path, summary)

    # --- trials.csv / trials.parquet: one table, one schema -------------------------------

    def read_trials(self) -> pd.DataFrame:
        """The trials table (parquet when present, else the CSV), with the schema's columns."""
        return read_trials_table(self.trials_parquet, self.trials_csv)

    def write_trials(self, table: pd.DataFrame) -> list[Path]:
        table.to_csv(self.trials_csv, index=False)
        table.to_parquet(self.trials_parquet, index=False)
        return [self.trials_csv, self.trials_parquet]

    # --- reports.parquet -----------------------------------------------------------------

    def read_reports(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Every report (or the named columns that exist, with trial_id); an empty table with
        only trial_id when there is no file or no report (an interrupted run)."""
        import pandas as pd
        import pyarrow.parquet as pq

        path = self.reports_file
        present = set(pq.read_schema(path).names) if path.is_file() else set()
        if TRIAL_ID not in present:
            return pd.DataFrame({TRIAL_ID: pd.Series(dtype="string")})
        wanted = (
            None
            if columns is None
            else [TRIAL_ID, *[c for c in columns if c in present and c != TRIAL_ID]]
        )
        frame = pd.read_parquet(path, columns=wanted)
        frame[TRIAL_ID] = frame[TRIAL_ID].astype(str)
        return frame

    def write_reports(self, table: pd.DataFrame) -> Path:
        table.to_parquet(self.reports_file, index=False)
        return self.reports_file

    # --- ledger.json, comparison.json, thesis.json ----------------------------------------

    def read_ledger(self) -> Ledger:
        """The budget ledger; an empty one when the run wrote none (an old or interrupted run)."""
        if not self.ledger_file.is_file():
            return Ledger()
        return Ledger.model_validate(self._json(self.ledger_file))

    def write_ledger(self, ledger: Ledger) -> Path:
        write_json(self.ledger_file, ledger.as_dict())
        return self.ledger_file

    def read_comparison(self) -> Comparison:
        return Comparison.model_validate(self._json(self.comparison_file))

    def write_comparison(self, comparison: Comparison) -> Path:
        write_json(self.comparison_file, comparison.as_dict())
        return self.comparison_file

    def read_thesis(self) -> ThesisIndex:
        return ThesisIndex.model_validate(self._json(self.thesis_file))

    def write_thesis(self, thesis: ThesisIndex) -> Path:
        write_json(self.thesis_file, thesis.as_dict())
        return self.thesis_file

    # --- spec.yaml -----------------------------------------------------------------------

    def read_spec_text(self) -> str:
        try:
            return self.spec_file.read_text()
        except OSError as error:
            raise LeantuneError(f"RUN_DIR: {self.spec_file} cannot be read ({error})") from None

    def read_spec(self) -> StudySpec | None:
        """The study as it ran, through the spec model (so its defaults live in one place);
        None when the directory holds no spec.yaml. Raises LeantuneError naming the file."""
        import yaml

        from leantune.errors import SpecError
        from leantune.spec import load_spec

        if not self.spec_file.is_file():
            return None
        if self.spec_file.stat().st_size > _MAX_SPEC_BYTES:
            raise LeantuneError(f"RUN_DIR: {self.spec_file} is over 1 MiB; not a stored study")
        try:
            raw = yaml.safe_load(self.read_spec_text())
        except yaml.YAMLError as error:
            raise LeantuneError(f"RUN_DIR: {self.spec_file} is not YAML ({error})") from None
        training = raw.get("training") if isinstance(raw, dict) else None
        if isinstance(training, dict) and training.get("max_steps") is not None:
            # An older leantune wrote every default, epochs beside max_steps: the one it ran.
            training.pop("epochs", None)
        try:
            return load_spec(raw if isinstance(raw, dict) else self.spec_file)
        except SpecError as error:
            raise LeantuneError(
                f"RUN_DIR: {self.spec_file} is not a valid study: {error}"
            ) from None

    def write_spec(self, spec_yaml: str) -> Path:
        self.spec_file.write_text(spec_yaml)
        return self.spec_file

    def _json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise LeantuneError(f"RUN_DIR: {path} cannot be read: {error}") from None
