"""Commands that run nothing load nothing heavy: no Ray, MLflow, scikit-learn or matplotlib in
the process."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs each command in one fresh interpreter, as `leantune` does, and lists the heavy modules
# it ended up holding.
_PROBE = """
import json, sys
from typer.testing import CliRunner
from leantune.cli import app
codes = [CliRunner().invoke(app, args).exit_code for args in json.loads(sys.argv[1])]
import leantune.engine, leantune.study._ledger, leantune.study._state, leantune.trials
heavy = {"ray", "mlflow", "sklearn", "matplotlib"}
heavy = sorted({name.split(".")[0] for name in sys.modules} & heavy)
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def test_validate_schema_datasets_and_help_import_no_ray_mlflow_sklearn_or_matplotlib(tmp_path):
    rows = "\n".join(f"{i % 7},{i % 5},{i % 2}" for i in range(60))
    (tmp_path / "rows.csv").write_text(f"a,b,label\n{rows}\n")
    (tmp_path / "file.yaml").write_text(
        "name: rows\ndataset: {source: file, path: rows.csv, target: label}\nmodel: logistic\n"
        "search: {space: {batch_size: [8]}}\n"
    )
    commands = [
        ["--help"],
        ["run", "--help"],
        ["validate", str(REPO / "examples" / "quickstart.yaml")],
        ["validate", str(tmp_path / "file.yaml")],
        ["schema"],
        ["schema", "--markdown"],
        ["datasets", "--cache-dir", str(tmp_path)],
    ]
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(commands)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["codes"] == [0] * len(commands)
    assert seen["heavy"] == []


def test_the_ray_free_names_keep_their_old_import_paths():
    from leantune import engine, search, trials
    from leantune.engine import _trial

    # Names newer than the engine's re-exports have no old path there.
    newer = {"RUNNING", "CONSTRAINT_RULES", "ENDED_STATUSES", "QUALITY_RULES", "StopReason"}
    # The report keys' names (trials/_keys.py) are newer too.
    newer |= {name for name in trials.__all__ if getattr(trials, name) in trials.STRUCTURAL_KEYS}
    newer.add("STRUCTURAL_KEYS")
    for name in set(trials.__all__) - newer - {"StopRule", "TrialStatus"}:
        assert getattr(engine, name) is getattr(trials, name)
    assert (_trial.FINISHED, _trial.DIVERGED, _trial.FAILED) == ("finished", "diverged", "failed")
    # The search core names no backend; the engine's run_search is it on Ray Tune by default.
    assert engine.run_search.__module__ == "leantune.engine._tune"
    backend = inspect.signature(search.run_search).parameters["backend"]
    assert backend.default is inspect.Parameter.empty
    assert engine.SearchRequest is search.SearchRequest
