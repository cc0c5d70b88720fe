"""Tracking under load: 16 trials × 100 reports written by the driver while another process
reads the same sqlite store the way `mlflow ui` does. Nothing fails, nothing is lost."""

import json
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from leantune.tracking import default_uri, open_tracker

pytestmark = [pytest.mark.slow, pytest.mark.system]

TRIALS, REPORTS = 16, 100

# What `mlflow ui` does while a study runs: list the runs, read their metric histories.
READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from mlflow.tracking import MlflowClient

    uri, stop = sys.argv[1], Path(sys.argv[2])
    client = MlflowClient(uri)
    reads, errors, messages = 0, 0, []
    Path(sys.argv[3]).touch()  # ready
    while not stop.exists():
        try:
            experiment = client.get_experiment_by_name("load")
            for run in client.search_runs([experiment.experiment_id], max_results=100):
                client.get_metric_history(run.info.run_id, "val_loss")
                reads += 1
        except Exception as error:
            errors += 1
            messages.append(repr(error)[:300])
        time.sleep(0.01)
    print(json.dumps({"reads": reads, "errors": errors, "messages": messages[:5]}))
    """
)


def _report(trial: int, step: int) -> dict:
    # A trial's report: ~25 numbers, plus text and a boolean, as the trial loop sends them.
    values = {f"metric_{k}": trial + step / (k + 1) for k in range(22)}
    return {
        "step": step * 10,
        "val_loss": 1.0 / step,
        "memory_mb": 170.0 + trial,
        "fold_finished": step == REPORTS,
        "trial_status": "finished" if step == REPORTS else None,
        **values,
    }


def test_a_reader_and_the_driver_share_the_store_without_errors_or_losses(tmp_path):
    tracker = open_tracker(None, "load", tmp_path)
    database = tmp_path / "mlflow.db"
    assert database.is_file()  # created by the driver, before any trial or reader exists
    uri = default_uri(tmp_path)
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, uri, str(stop), str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the reader is in its loop

    tracker.start_study("load-study", {"trials": TRIALS}, {}, "")
    for trial in range(TRIALS):
        tracker.start_trial(f"t{trial}", f"trial-{trial}", {"index": trial})
    for step in range(1, REPORTS + 1):
        for trial in range(TRIALS):  # trials report side by side, as Tune interleaves them
            tracker.log_report(f"t{trial}", _report(trial, step))
    for trial in range(TRIALS):
        tracker.end_trial(f"t{trial}", "feasible", {})
        time.sleep(0.05)  # trials end one after another while the reader reads
    tracker.end_study({"trials": TRIALS}, {}, [])

    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    result = json.loads(out)
    assert result["errors"] == 0, result["messages"]
    assert result["reads"] > 0
    assert tracker.write_failures == 0

    numeric = 2 + 22  # val_loss, system/memory_mb and 22 more (step, fold_finished: bookkeeping)
    with sqlite3.connect(database) as connection:
        counts = connection.execute(
            "SELECT COUNT(*) FROM metrics m JOIN runs r ON m.run_uuid = r.run_uuid "
            "WHERE r.name LIKE 'trial-%' GROUP BY m.run_uuid, m.key"
        ).fetchall()
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert len(counts) == TRIALS * numeric
    assert {count for (count,) in counts} == {REPORTS}  # every point, once
    assert journal == "wal"  # readers and the writer do not block each other
