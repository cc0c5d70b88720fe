"""The replay backend: a real study's recorded reports, fed through the same rules, give the
same decisions (no training)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from leantune.results import TRIALS_PARQUET
from leantune.search import ReplayBackend
from leantune.spec import load_spec
from leantune.study import run_study
from leantune.study._policies import build_decisions
from leantune.study._prepare import prepare_study
from leantune.study._search import search, search_request, training_plan
from leantune.testing import RecordingObserver

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def test_replaying_a_study_reproduces_its_decisions(tmp_path):
    raw = yaml.safe_load(QUICKSTART.read_text())
    raw["output"] = {"dir": str(tmp_path / "run"), "report": False}
    raw["resources"] = {"backend": "in-process"}
    spec = load_spec(raw)
    run_study(spec, show_progress=False)
    ran = pd.read_parquet(tmp_path / "run" / TRIALS_PARQUET)

    # The same study, replayed: its rules built afresh, its trials fed from the recording.
    replay_spec = load_spec({**raw, "output": {"dir": str(tmp_path / "replay"), "report": False}})
    prepared = prepare_study(replay_spec)
    decisions = build_decisions(replay_spec, prepared.memory)
    request = search_request(prepared, training_plan(prepared, decisions))
    records = search(
        request, decisions, RecordingObserver(), ReplayBackend.from_run_dir(tmp_path / "run")
    )

    def decided(configs, statuses, labels):
        return sorted(
            (c["model"], c["batch_size"], c["learning_rate"], s, lab)
            for c, s, lab in zip(configs, statuses, labels, strict=True)
        )

    original = decided(
        ran[["model", "batch_size", "learning_rate"]].to_dict("records"),
        ran["status"],
        ran["stop_label"],
    )
    replayed = decided(
        [r.config for r in records],
        [r.status for r in records],
        [r.stop_reason.label if r.stop_reason else "" for r in records],
    )
    assert replayed == original
    assert {"stopped", "feasible"} <= {status for *_, status, _ in original}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not parquet", "not a readable parquet table"),
        (None, "rows without a trial_id"),
    ],
)
def test_a_tampered_run_directory_is_refused_in_one_line(tmp_path, content, expected):
    from leantune.errors import LeantuneError

    run = tmp_path / "run"
    run.mkdir()
    if content is None:
        pd.DataFrame({"a": [1]}).to_parquet(run / "trials.parquet")
    else:
        (run / "trials.parquet").write_bytes(content)
    with pytest.raises(LeantuneError, match="trials.parquet") as error:
        ReplayBackend.from_run_dir(run)
    assert expected in str(error.value) and "\n" not in str(error.value)
