"""What the user wrote comes back as written: a path or name holding Rich markup ("[/]",
"[bold]") is printed literally by `leantune run`, from its first line to its summary."""

import signal

import pytest
import yaml
from typer.testing import CliRunner

from leantune.cli import app
from leantune.testing import tiny_spec


@pytest.mark.slow
def test_a_run_directory_named_with_markup_is_printed_as_written(ray_session, in_tmp):
    spec = tiny_spec(
        search={"space": {"batch_size": [32], "learning_rate": [0.01], "alpha": [0.0001]}},
        output={"dir": "out[/]x[bold]", "report": False},
    )
    (in_tmp / "study.yaml").write_text(yaml.safe_dump(spec))
    handler = signal.getsignal(signal.SIGTERM)
    try:
        result = CliRunner().invoke(app, ["run", "study.yaml", "--quiet"])
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "→ out[/]x[bold]" in said
    assert "Run directory: out[/]x[bold] (summary.json" in said
    assert (in_tmp / "out[" / "]x[bold]" / "summary.json").is_file()
