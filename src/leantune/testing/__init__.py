"""Helpers the test suite shares: tiny study specs, an observer that records events, a parser
that checks a report loads nothing from the network, and the test-only faults
(leantune.engine.Fault) that make chosen trials misbehave.

They ship in the package (as Optuna's `optuna.testing` does) so plug-in authors can use them too.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from leantune.results import Summary
from leantune.stoppers import Decision, StoppingPolicy, TrialHistory

_TINY_SPEC: dict[str, Any] = {
    "name": "tiny",
    "dataset": {"source": "sklearn", "name": "breast_cancer"},
    "model": ["logistic"],
    "search": {
        "method": "grid",
        "space": {"batch_size": [16, 128], "learning_rate": [0.01], "alpha": [0.0001]},
    },
    "training": {"epochs": 1, "report_every": 10, "seed": 0},
    "validation": {"test_size": 0.3, "cv_folds": 2},
    "resources": {"cpus_per_trial": 1},
    # Plotting costs seconds a study; the report's own tests turn it back on.
    "output": {"report": False},
}


def tiny_spec(**sections: Any) -> dict[str, Any]:
    """A study spec dict that runs in seconds; keyword arguments replace whole sections."""
    spec = copy.deepcopy(_TINY_SPEC)
    spec.update(copy.deepcopy(sections))
    return spec


def tiny_summary(**fields: Any) -> Summary:
    """A summary.json model with every required key (a study with no pick that took a
    second); keyword arguments replace whole keys, `dataset` a dict of the dataset's."""
    dataset = {"name": "d", "task": "classification", "rows": 90, "features": 4}
    dataset.update(fields.pop("dataset", {}))
    values: dict[str, Any] = {
        "study": "tiny",
        "run_dir": "run",
        "dataset": dataset,
        "models": ["logistic"],
        "search_space": {"batch_size": [8]},
        "folds": 2,
        "constraints": {},
        "trials": 0,
        "status_counts": {},
        "best": None,
        "wall_time_s": 1.0,
        "trial_cpu_s": 0.0,
        "driver_cpu_s": 0.0,
        "tracking_uri": "sqlite:///run/mlflow.db",
        "leantune_version": "test",
        "python": "3.11",
    }
    return Summary.model_validate({**values, **fields})


class RecordingObserver:
    """A TrialObserver that keeps every event, for assertions."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.reports: dict[str, list[dict[str, Any]]] = {}

    def trial_started(self, record: Any) -> None:
        self.events.append(("started", record.trial_id))

    def trial_reported(self, record: Any, report: dict[str, Any]) -> None:
        self.reports.setdefault(record.trial_id, []).append(report)

    def trial_restarted(self, record: Any) -> None:
        self.events.append(("restarted", record.trial_id))
        self.reports.pop(record.trial_id, None)

    def trial_ended(self, record: Any) -> None:
        self.events.append(("ended", record.trial_id))


class AlwaysStop(StoppingPolicy):
    """Stops every trial at its first report."""

    def decide(self, history: TrialHistory) -> Decision:
        from leantune.stoppers import StopReason

        step = int(history.last.get("step", 0))
        return Decision.stop_because(StopReason("always", "step", step, 0.0, step))


class NeverStop(StoppingPolicy):
    def decide(self, history: TrialHistory) -> Decision:
        return Decision.carry_on()


class ParsedReport(HTMLParser):
    """What a browser would load: figures, tables, and every src and href."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, bytes] = {}
        self.tables: dict[str, int] = {}
        self.links: list[str] = []
        self._figure: str | None = None
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.links.append(values[name])
        if tag == "figure":
            self._figure = values.get("id")
        elif tag == "img" and self._figure:
            source = values.get("src") or ""
            prefix = "data:image/png;base64,"
            self.figures[self._figure.removeprefix("fig-")] = (
                base64.b64decode(source[len(prefix) :]) if source.startswith(prefix) else b""
            )
        elif tag == "table":
            self._table = (values.get("id") or "").removeprefix("tab-")
            self.tables[self._table] = 0
        elif tag == "tr" and self._table is not None:
            self.tables[self._table] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        elif tag == "table":
            self._table = None


def parse_report(path: Path) -> ParsedReport:
    """Parse a report, and check it loads nothing from the network and every figure is a PNG."""
    text = path.read_text(encoding="utf-8")
    parsed = ParsedReport()
    parsed.feed(text)
    external = [link for link in parsed.links if re.match(r"^\s*(https?:)?//", link, re.I)]
    if external or re.search(r"""(src|href)\s*=\s*["']?\s*https?://""", text, re.I):
        raise AssertionError(f"{path} references the network: {external}")
    for name, png in parsed.figures.items():
        if not (png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000):
            raise AssertionError(f"{path}: figure {name} is not an embedded PNG")
    return parsed


@contextlib.contextmanager
def cpu_hog(seconds: float = 120.0) -> Iterator[subprocess.Popen]:
    """Another job on the machine: a process that spins one core for at most `seconds`.

    It stops by itself when its time is up, and is killed when the block ends, so a failing
    test or benchmark never leaves it running.
    """
    with _hog("pass", seconds) as hog:
        yield hog


@contextlib.contextmanager
def memory_hog(seconds: float = 120.0) -> Iterator[subprocess.Popen]:
    """Another job that spins one core streaming memory (copying 256 MiB over and over): unlike
    cpu_hog's spin loop, it competes for the shared cache and memory bandwidth. Stops and is
    killed as cpu_hog is."""
    setup = "import numpy as np\na, b = np.ones(2**25), np.empty(2**25)  # far beyond any cache"
    with _hog("np.copyto(b, a)", seconds, setup) as hog:
        yield hog


@contextlib.contextmanager
def _hog(work: str, seconds: float, setup: str = "") -> Iterator[subprocess.Popen]:
    """A process that repeats `work` for at most `seconds`, killed when the block ends."""
    code = f"import time\n{setup}\nend = time.monotonic() + {float(seconds)}\n"
    code += f"while time.monotonic() < end: {work}"
    hog = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait()


def __getattr__(name: str) -> Any:
    # Faults live in the engine, which imports Ray: load it only when a test asks for them.
    if name in ("Fault", "InjectedFault"):
        from leantune import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlwaysStop",
    "Fault",
    "InjectedFault",
    "NeverStop",
    "ParsedReport",
    "RecordingObserver",
    "cpu_hog",
    "memory_hog",
    "parse_report",
    "tiny_spec",
    "tiny_summary",
]
