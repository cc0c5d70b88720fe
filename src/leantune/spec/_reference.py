"""The study file's reference, generated from the model: a JSON Schema for editors and the
Markdown page docs/study-file.md. Keys, defaults, allowed values and the docstrings under each
field in `_model.py` are its only source."""

from __future__ import annotations

import json
from typing import Any

from leantune.spec._model import SearchSpaceSpec, StudySpec

SCHEMA_ID = "https://leantune.dev/schema/study.json"


def json_schema() -> dict[str, Any]:
    """The study file's JSON Schema (draft 2020-12), with each key's description."""
    schema = StudySpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "leantune study file",
    }


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
            lines.append(f"| `{key}` | {_allowed(prop, defs)} | {default} | {_one_line(what)} |")
        lines.append("")
        queue = nested + queue
    return "\n".join(lines)


def _section_ref(prop: dict[str, Any]) -> str | None:
    for option in [prop, *prop.get("anyOf", ())]:
        if "$ref" in option:
            return option["$ref"].rsplit("/", 1)[-1]
    return None


def _allowed(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        if name == "Axis":
            return "a list, `{pow2: [low, high]}`, `{pow10: [low, high]}` or `{log: [low, high]}`"
        return "a section (below)"
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        text = " or ".join(_allowed(o, defs) for o in options)
        return f"{text}, or null" if len(options) < len(prop["anyOf"]) else text
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
    if kind == "string":
        return "a path" if prop.get("format") == "path" else "text"
    return "any"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
