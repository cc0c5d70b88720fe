"""The study file's reference, generated from the model: a JSON Schema for editors and the
Markdown page docs/study-file.md. Keys, defaults, allowed values and the docstrings under each
field in `_model.py` are its only source."""

from __future__ import annotations

import json
from typing import Any

from leantune.metrics._catalog import METRICS
from leantune.spec._model import SearchSpaceSpec, StudySpec

SCHEMA_ID = "https://leantune.dev/schema/study.json"


def json_schema() -> dict[str, Any]:
    """The study file's JSON Schema (draft 2020-12), with each key's description.

    It describes what a user may write, every short form included (`model: linear`,
    `{min: 0.9}`, `objective: train_time_s`): pydantic describes the model's fields after
    their `mode="before"` validators, which is stricter than the file, so those forms are
    added here.
    """
    schema = StudySpec.model_json_schema()
    _add_short_forms(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "leantune study file",
    }


# Sections a `true` turns on with their defaults (`_on_off` in _model.py).
_SWITCHES = ("predictive", "divergence", "prechelt", "patience")


def _add_short_forms(schema: dict[str, Any]) -> None:
    """Widen the schema to each short form a `mode="before"` validator of _model.py takes."""
    defs = schema["$defs"]
    # model: one entry alone (a name or an estimator) as well as a list (_one_or_many).
    model = schema["properties"]["model"]
    listed = {k: model.pop(k) for k in ("items", "type", "minItems") if k in model}
    model["anyOf"] = [listed, {"oneOf": listed["items"]["oneOf"]}]
    # A single number is an axis of one value (parse_axis).
    defs["Axis"]["anyOf"].insert(0, {"type": "number"})
    # objective: a metric's name alone; scheduler: its name alone; subsample: the rows alone.
    objective = schema["properties"]["objective"]
    objective["anyOf"].insert(0, defs["ObjectiveSpec"]["properties"]["metric"])
    scheduler = defs["SearchSpec"]["properties"]["scheduler"]
    scheduler["anyOf"].insert(0, defs["SchedulerSpec"]["properties"]["name"])
    subsample = defs["DatasetSpec"]["properties"]["subsample"]
    subsample["anyOf"].insert(0, {"type": "integer", "minimum": 1})
    for name in _SWITCHES:
        defs["StoppingSpec"]["properties"][name]["anyOf"].insert(0, {"type": "boolean"})
    # A limit: a bare number is a maximum; `{max: x}` says so; a floor is `{min: x}` only.
    for name, prop in defs["ConstraintsSpec"]["properties"].items():
        if name not in METRICS or "anyOf" not in prop:
            continue
        bound = METRICS[name].bound
        number = next(o for o in prop["anyOf"] if o.get("type") in ("number", "integer"))
        form = {
            "type": "object",
            "properties": {bound: number},
            "required": [bound],
            "additionalProperties": False,
        }
        forms = [form] if bound == "min" else [number, form]
        prop["anyOf"] = [*forms, {"type": "null"}]


def markdown_reference() -> str:
    """docs/study-file.md: one table per section, every key with what it allows."""
    schema = json_schema()
    defs = schema["$defs"]
    lines = [
        "# Study file reference",
        "",
        "<!-- Generated from src/leantune/spec/_model.py by `leantune schema --markdown > "
        "docs/study-file.md`; a test checks it is current. Do not edit by hand. -->",
        "",
        "Every key a study file (YAML) may hold, its allowed values and its default. A key not "
        "listed here is an error. `leantune schema` prints the same as a JSON Schema, for "
        "editors. A default of — is worked out when the study starts (see the key's text).",
        "",
    ]
    # Axes default through a factory, which the schema cannot show: read them off the model.
    axis_defaults = {
        f"search.space.{name}": value
        for name, value in SearchSpaceSpec().model_dump(mode="json").items()
    }
    queue: list[tuple[str, dict[str, Any]]] = [("", schema)]
    while queue:
        prefix, section = queue.pop(0)
        required = set(section.get("required", ()))
        lines += [f"## {prefix or 'top level'}", ""]
        about = section.get("description") if prefix else None
        if prefix == "search.space":
            about = defs["Axis"]["description"]
        if about:
            lines += [_one_line(about), ""]
        lines += ["| key | allowed | default | what |", "| --- | --- | --- | --- |"]
        nested = []
        for name, prop in section.get("properties", {}).items():
            key = f"{prefix}.{name}" if prefix else name
            ref = _section_ref(prop)
            if ref is not None and ref != "Axis":
                nested.append((key, defs[ref]))
            if name in required:
                default = "required"
            elif "default" in prop:
                default = f"`{json.dumps(prop['default'])}`"
            elif key in axis_defaults:
                default = f"`{json.dumps(axis_defaults[key])}`"
            elif ref is not None:
                default = "its keys' defaults"
            else:
                default = "—"
            what = prop.get("description") or ""
            if ref is not None and ref != "Axis" and not what:
                what = defs[ref].get("description") or ""
            if ref == "Axis":
                what = ""
            allowed = _ALLOWED_TEXT.get(key) or _allowed(prop, defs)
            lines.append(f"| `{key}` | {allowed} | {default} | {_one_line(what)} |")
        lines.append("")
        queue = nested + queue
    return "\n".join(lines)


# Keys whose forms read better said than listed from the schema.
_ALLOWED_TEXT = {
    "model": "a name (`linear` \\| `logistic` \\| `svm`), an estimator "
    "(`{name, estimator, params}`) or a training function (`{name, trainable: true}`), or a "
    "list of them",
}


def _section_ref(prop: dict[str, Any]) -> str | None:
    for option in [prop, *prop.get("anyOf", ())]:
        if "$ref" in option:
            return option["$ref"].rsplit("/", 1)[-1]
    return None


def _allowed(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        if name == "Axis":
            return (
                "a number, a list, `{pow2: [low, high]}`, `{pow10: [low, high]}` or "
                "`{log: [low, high]}`"
            )
        return "a section (below)"
    if "anyOf" in prop or "oneOf" in prop:
        given = prop.get("anyOf") or prop["oneOf"]
        options = [o for o in given if o.get("type") != "null"]
        text = " or ".join(_allowed(o, defs) for o in options)
        return f"{text}, or null" if len(options) < len(given) else text
    if "enum" in prop:
        return " \\| ".join(f"`{value}`" for value in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = prop.get("type")
    if kind == "array":
        return f"a list of {_allowed(prop.get('items', {}), defs)}"
    if kind in ("integer", "number"):
        bounds = [
            f"{sign} {prop[key]:g}"
            for key, sign in (
                ("minimum", "≥"),
                ("exclusiveMinimum", ">"),
                ("maximum", "≤"),
                ("exclusiveMaximum", "<"),
            )
            if key in prop
        ]
        noun = "an integer" if kind == "integer" else "a number"
        return f"{noun} {' and '.join(bounds)}".rstrip()
    if kind == "boolean":
        return "`true` or `false`"
    if kind == "object" and len(prop.get("required", ())) == 1:
        (key,) = prop["required"]  # a short form such as {min: x}
        return f"`{{{key}: x}}`, x {_allowed(prop['properties'][key], defs)}"
    if kind == "string":
        return "a path" if prop.get("format") == "path" else "text"
    return "any"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
