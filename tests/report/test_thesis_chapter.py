"""The one thesis chapter: a thesis directory of the first layout is refused in one line."""

import json

from typer.testing import CliRunner

from leantune.cli import app


def test_a_thesis_of_the_first_layout_is_refused_in_one_line(tmp_path):
    # The first layout: one run or comparison a set, no "layout" key.
    (tmp_path / "thesis.json").write_text(
        json.dumps({"command": "leantune study thesis", "datasets": [{"name": "a", "dir": "a"}]})
    )
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "thesis of the first layout" in line and "Traceback" not in result.output
