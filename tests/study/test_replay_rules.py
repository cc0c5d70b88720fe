"""Judging a study's rules on a recorded run, without training: what they would stop, how many
of those stops are false against the complete records, and the pick's regret."""

import math

import leantune
from leantune.study import replay_rules
from leantune.testing import tiny_spec

_SPACE = {"batch_size": [1, 2, 64, 128], "learning_rate": [0.1, 0.01]}


def _spec(tmp_path, out, scheduler=None, **sections):
    return leantune.load_spec(
        tiny_spec(
            search={"space": _SPACE, "scheduler": scheduler},
            resources={"backend": "in-process"},
            output={"dir": str(tmp_path / out), "report": False},
            **sections,
        )
    )


def test_rules_replayed_on_an_unstopped_run_are_measured_against_its_complete_records(tmp_path):
    # The recording: every trial runs to its end.
    leantune.run(_spec(tmp_path, "unstopped", stopping={"enabled": False}), show_progress=False)
    # A limit no trial can meet: every replayed trial is stopped, and each stop is right.
    strict = replay_rules(
        tmp_path / "unstopped", _spec(tmp_path, "strict", constraints={"train_time_s": 1e-6})
    )
    assert strict.measures["limit_stops"] == 8 and strict.measures["false_stops"] == 0
    assert strict.measures["pick"] is None
    assert strict.measures["replayed_cpu_s"] < strict.measures["recorded_cpu_s"]
    # No limit: nothing stopped, the same pick as the recording's best, no regret.
    free = replay_rules(tmp_path / "unstopped", _spec(tmp_path, "free"))
    assert free.measures["limit_stops"] == 0
    assert free.measures["regret"] == 0 and math.isfinite(free.measures["pick_value"])
    assert set(free.table.replayed_status) == {"feasible"}
    assert free.measures["pick_complete_value"] == free.measures["pick_value"]
    # ASHA cuts trials short even with stopping off: the pick is scored on its complete record
    # (the truth runs without the scheduler), not on the few folds it had reached.
    asha = replay_rules(tmp_path / "unstopped", _spec(tmp_path, "asha", scheduler={"name": "asha"}))
    truth = {
        (r["batch_size"], r["learning_rate"]): r["cv_score_mean"]
        for r in free.table.assign(
            cv_score_mean=[x.last.get("cv_score_mean") for x in free.records]
        ).to_dict("records")
    }
    picked = asha.measures["pick"]
    assert (
        asha.measures["pick_complete_value"]
        == truth[(picked["batch_size"], picked["learning_rate"])]
    )
    assert asha.measures["regret"] == max(truth.values()) - asha.measures["pick_complete_value"]


def test_the_replay_command_prints_the_measures_and_refuses_a_directory_without_a_run(tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from leantune.cli import app

    leantune.run(_spec(tmp_path, "unstopped", stopping={"enabled": False}), show_progress=False)
    rules = tmp_path / "rules.yaml"
    raw = tiny_spec(
        search={"space": {"batch_size": [1, 2, 64, 128], "learning_rate": [0.1, 0.01]}},
        constraints={"train_time_s": 1e-6},
    )
    rules.write_text(yaml.safe_dump(raw))
    printed = CliRunner().invoke(app, ["replay", str(tmp_path / "unstopped"), str(rules)])
    assert printed.exit_code == 0, printed.output
    assert "8 stopped or skipped for a limit, 0 of them false" in printed.output
    as_json = CliRunner().invoke(app, ["replay", str(tmp_path / "unstopped"), str(rules), "--json"])
    assert json.loads(as_json.output)["limit_stops"] == 8
    missing = CliRunner().invoke(app, ["replay", str(tmp_path / "nothing"), str(rules)])
    assert missing.exit_code == 2 and "has no trials.parquet" in missing.output
    assert "Traceback" not in missing.output
