"""`leantune schema` describes what a user may write: every example, every YAML snippet of the
README and docs, and each short form the loader takes, validate against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

jsonschema = pytest.importorskip("jsonschema")

from leantune.spec._reference import json_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _validator(whole: bool = True):
    schema = json_schema()
    if not whole:
        schema.pop("required")  # a snippet shows a few sections, not a whole study file
    return jsonschema.Draft202012Validator(schema)


def _problems(validator, data) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def _snippets() -> list[tuple[str, dict]]:
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            data = yaml.safe_load(match.group(1))
            if isinstance(data, dict):
                line = text[: match.start()].count("\n") + 1
                found.append((f"{path.name}:{line}", data))
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid_against_the_schema(path):
    assert EXAMPLES
    assert _problems(_validator(), yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(("where", "data"), _snippets(), ids=[w for w, _ in _snippets()])
def test_every_yaml_snippet_of_the_docs_is_valid_against_the_schema(where, data):
    assert _problems(_validator(whole=False), data) == [], where


SHORT_FORMS = {
    "one model by name": {"model": "linear"},
    "one estimator": {
        "model": {"name": "mlp", "estimator": "sklearn.neural_network.MLPClassifier"}
    },
    "a floor": {"constraints": {"val_accuracy": {"min": 0.9}}},
    "an explicit maximum": {"constraints": {"memory_mb": {"max": 512}}},
    "a bare maximum": {"constraints": {"train_time_s": 0.5}},
    "an objective by name": {"objective": "inference_latency_ms"},
    "a scheduler by name": {"search": {"scheduler": "asha"}},
    "a subsample by rows": {"dataset": {"name": "iris", "subsample": 200}},
    "a policy switched on": {"stopping": {"divergence": True, "prechelt": False}},
    "an axis of one value": {"search": {"space": {"alpha": 0.0001}}},
}


@pytest.mark.parametrize("data", SHORT_FORMS.values(), ids=SHORT_FORMS.keys())
def test_each_short_form_the_loader_takes_is_valid(data):
    from leantune.spec import load_spec

    spec = {"name": "s", "dataset": {"name": "iris"}, "model": ["logistic"], **data}
    assert _problems(_validator(), spec) == []
    load_spec(spec)  # and the loader takes it indeed


@pytest.mark.parametrize(
    "constraints",
    [{"val_accuracy": 0.9}, {"val_accuracy": {"max": 0.9}}, {"memory_mb": {"min": 5}}],
    ids=["a bare floor", "a ceiling on accuracy", "a floor on memory"],
)
def test_what_the_loader_refuses_the_schema_refuses(constraints):
    from leantune.errors import SpecError
    from leantune.spec import load_spec

    spec = {"name": "s", "dataset": {"name": "iris"}, "model": "logistic"}
    assert _problems(_validator(), {**spec, "constraints": constraints})
    with pytest.raises(SpecError):
        load_spec({**spec, "constraints": constraints})
