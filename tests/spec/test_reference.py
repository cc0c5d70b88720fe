"""The study file's reference is generated from the model, and the shipped copy is current."""

import json
from pathlib import Path

from typer.testing import CliRunner

from leantune.cli import app
from leantune.spec._reference import json_schema, markdown_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "study-file.md"


def test_docs_study_file_is_the_generated_reference():
    assert DOC.read_text() == markdown_reference() + "\n", (
        "docs/study-file.md is stale: leantune schema --markdown > docs/study-file.md"
    )


def test_the_schema_carries_each_keys_docstring_default_and_allowed_values():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == json_schema()
    constraints = schema["$defs"]["ConstraintsSpec"]["properties"]
    assert constraints["clock"]["enum"] == ["cpu", "wall", "normalized"]
    assert constraints["clock"]["default"] == "cpu"
    assert "CPU time" in constraints["clock"]["description"]
    assert schema["$defs"]["SearchSpaceSpec"]["properties"]["batch_size"]["$ref"]
    assert "pow2" in json.dumps(schema["$defs"]["Axis"])


def test_every_key_of_the_model_is_in_the_reference():
    from leantune.spec import StudySpec

    text = markdown_reference()
    for section, field in StudySpec.model_fields.items():
        assert f"`{section}`" in text
        model = field.annotation
        for key in getattr(model, "model_fields", {}):
            assert f"`{section}.{key}`" in text
