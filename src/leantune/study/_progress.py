"""Live progress while a study runs: trials done, running, and how they ended."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressDisplay:
    """A progress bar on a terminal; on a pipe or in CI, a plain line every ~10% of trials."""

    def __init__(
        self,
        total: int,
        console: Console,
        enabled: bool = True,
        done: Mapping[str, int] | None = None,
    ):
        """`done`: trials that ended in earlier sessions of a resumed study, by status."""
        self.total = total
        self.console = console
        self.enabled = enabled
        self.running = 0
        self.outcomes: Counter[str] = Counter({k: v for k, v in (done or {}).items() if v})
        self._live = enabled and console.is_terminal
        self._every = max(1, total // 10)
        self._bar: Progress | None = None
        self._task: Any = None
        self._started = time.monotonic()
        self._earlier = sum(self.outcomes.values())

    def __enter__(self) -> ProgressDisplay:
        if self._live:
            self._bar = Progress(
                TextColumn("[bold]trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                self._counts(), total=self.total, completed=sum(self.outcomes.values())
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def started(self) -> None:
        self.running += 1
        self._refresh()

    def ended(self, status: str) -> None:
        self.running = max(0, self.running - 1)
        self.outcomes[status] += 1
        self._refresh()
        done = sum(self.outcomes.values())
        if self.enabled and not self._live and (done % self._every == 0 or done == self.total):
            self.console.print(
                f"trials {done}/{self.total} · {self._counts()} · {self._times(done)}",
                highlight=False,
            )

    def _times(self, done: int) -> str:
        """Elapsed, and the time left at this session's pace so far."""
        elapsed = time.monotonic() - self._started
        text = f"{_clock(elapsed)} elapsed"
        ran = done - self._earlier
        if ran > 0 and done < self.total:
            text += f", about {_clock(elapsed / ran * (self.total - done))} left"
        return text

    def _counts(self) -> str:
        parts = [f"running {self.running}"] + [f"{k} {v}" for k, v in sorted(self.outcomes.items())]
        return " · ".join(parts)

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task, completed=sum(self.outcomes.values()), description=self._counts()
            )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
