"""A campaign file: the thesis flags as YAML keys, checked one line a problem, and a flag on
the command line wins over the file."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leantune.cli import app
from leantune.errors import LeantuneError
from leantune.study._campaign import load_campaign


def test_a_campaign_file_gives_the_flags_it_sets(tmp_path):
    path = tmp_path / "thesis.yaml"
    path.write_text("campaign: thesis\ndatasets: [diabetes, mnist]\nrepeats: 2\nbackend: both\n")
    assert load_campaign(path).flags() == {
        "datasets": "diabetes,mnist",
        "repeats": 2,
        "backend": "both",
    }


def test_each_problem_of_a_campaign_file_is_one_line_naming_its_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("repeats: many\nfolds: 3\n")
    with pytest.raises(LeantuneError) as caught:
        load_campaign(path)
    assert [p.split(": ")[1] for p in caught.value.problems] == ["repeats", "folds"]
    assert "got 'many'" in caught.value.problems[0]
    path.write_text("- a list\n")
    with pytest.raises(LeantuneError, match="must be a mapping"):
        load_campaign(path)
    with pytest.raises(LeantuneError, match="is not a file"):
        load_campaign(tmp_path / "missing.yaml")


def test_a_flag_on_the_command_line_wins_over_the_campaign_file(tmp_path, monkeypatch):
    ran = []

    def run_thesis(options, **_):
        ran.append(options)
        raise LeantuneError("stop here")

    monkeypatch.setattr("leantune.study._thesis.run_thesis", run_thesis)
    path = tmp_path / "thesis.yaml"
    path.write_text("datasets: [diabetes]\nrepeats: 2\nseed: 7\ncv_folds: 3\n")
    result = CliRunner().invoke(app, ["study", "thesis", str(path), "--repeats", "1"])
    assert result.exit_code == 2 and "stop here" in result.output
    (options,) = ran
    assert options.datasets == ("diabetes",) and options.seed == 7 and options.folds == 3
    assert options.repeats == 1  # the flag, not the file's 2
    assert options.output_dir is None and isinstance(path, Path)
