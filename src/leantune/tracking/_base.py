"""What the study needs from a tracker, and a tracker that records nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class Tracker(Protocol):
    """Driver-side experiment tracking: one parent run a study, one child run a trial."""

    uri: str
    parent_run_id: str | None

    def start_study(
        self, run_name: str, params: Mapping[str, Any], tags: Mapping[str, str], spec_yaml: str
    ) -> None: ...

    def reopen_study(self, parent_run_id: str) -> Mapping[str, Any]:
        """Carry on with an earlier session's study run (resume); its trials' runs by id."""
        ...

    def start_trial(self, trial_id: str, run_name: str, params: Mapping[str, Any]) -> None: ...

    def log_report(self, trial_id: str, report: Mapping[str, Any]) -> None: ...

    def restart_trial(self, trial_id: str) -> None:
        """A failed attempt is retried: what it reported is void."""
        ...

    def end_trial(self, trial_id: str, status: str, tags: Mapping[str, str]) -> None: ...

    def end_study(
        self,
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        artifacts: list[Path],
        failed: bool = False,
        interrupted: bool = False,
    ) -> None: ...


class NullTracker:
    """Records nothing; for Python users and tests that do not want a store."""

    uri = ""
    parent_run_id: str | None = None

    def reopen_study(self, parent_run_id: str) -> dict[str, Any]:
        return {}

    def restart_trial(self, *args: Any, **kwargs: Any) -> None:
        pass

    def start_study(self, *args: Any, **kwargs: Any) -> None:
        pass

    def start_trial(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_report(self, *args: Any, **kwargs: Any) -> None:
        pass

    def end_trial(self, *args: Any, **kwargs: Any) -> None:
        pass

    def end_study(self, *args: Any, **kwargs: Any) -> None:
        pass
