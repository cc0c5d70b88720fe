"""Load a study spec from YAML or a dict, apply `--set key=value` overrides, and explain errors."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from leantune.errors import SpecError
from leantune.spec._model import StudySpec


def load_spec(
    source: str | Path | Mapping[str, Any] | StudySpec,
    overrides: Iterable[str] = (),
) -> StudySpec:
    """Validate a whole study spec, raising SpecError with one line per problem."""
    if isinstance(source, StudySpec):
        if not overrides:
            return source
        raw: dict[str, Any] = source.model_dump(
            mode="json", exclude_unset=True, context={"keep_secrets": True}
        )
        origin = "spec"
    elif isinstance(source, Mapping):
        raw = copy.deepcopy(dict(source))
        origin = "spec"
    else:
        raw = _read_yaml(Path(source))
        origin = str(source)
    for override in overrides:
        _apply_override(raw, override)
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(_explain(error, raw, origin)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        # A FIFO or device would block or stream forever: only a regular file is read.
        problem = (
            "is a directory"
            if path.is_dir()
            else "is not a regular file"
            if path.exists()
            else "not found"
        )
        raise SpecError(f"{path}: study file {problem}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"{path}: a study file must be UTF-8 text (YAML); got byte "
            f"{error.object[error.start]:#04x} at offset {error.start} (a binary file?)"
        ) from None
    except OSError as error:
        raise SpecError(f"{path}: study file cannot be read ({error.strerror or error})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as error:
        raise SpecError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SpecError(f"{path}: not valid YAML{line}: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a study file must be a mapping of keys (name, dataset, model, ...); "
            f"got {type(data).__name__}"
        )
    return data


class _DuplicateKey(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (where the last would
    silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class explains it
                break
            seen.setdefault(key, line)
            if first is not None:
                raise _DuplicateKey(
                    f"key {key!r} is given twice, at line {first} and line {line}; a key may "
                    "appear once in a mapping (the last would silently win): remove one"
                )
        return super().construct_mapping(node, deep=deep)


def _apply_override(raw: dict[str, Any], override: str) -> None:
    """Apply `a.b.c=value`; the value is read as YAML, so `3`, `0.1`, `[1, 2]` keep their type."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {override!r}: expected KEY=VALUE, e.g. output.dir=runs/mine")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    parts = key.strip().split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise SpecError(f"--set {override!r}: {where} is {child!r}, not a section with keys")
        node = child
    node[parts[-1]] = value


def _explain(error: ValidationError, raw: dict[str, Any], origin: str) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        location = [part for part in item["loc"] if not _is_pydantic_tag(part)]
        field = _dotted(location)
        sentence = _sentence(item, location)
        # Cross-field checks name their own fields, so they need no prefix.
        named = not field or sentence.startswith((f"{field}.", f"{field}:"))
        lines.append(sentence if named else f"{field}: {sentence}")
    return [f"{origin}: {line}" for line in dict.fromkeys(lines)]


# The tags of tagged unions (spec/_model.py): which kind of model entry was given.
_UNION_TAGS = frozenset({"built-in", "by-path"})


def _is_pydantic_tag(part: Any) -> bool:
    # Union members and validator names show up in `loc`; they mean nothing to a user.
    return isinstance(part, str) and (
        "[" in part or part.startswith("function-") or part in _UNION_TAGS
    )


def _dotted(location: list[Any]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _sentence(item: Mapping[str, Any], location: list[Any]) -> str:
    kind = item["type"]
    given = item.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(StudySpec, location[:-1])
        hint = _closest(str(location[-1]), allowed)
        return f"unknown key{hint}; allowed keys here: {', '.join(allowed)}"
    if kind == "missing":
        return "is required but missing"
    message = item["msg"]
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    if kind == "literal_error" and isinstance(given, str):
        options = [opt.strip(" '") for opt in message.removeprefix("must be ").split(",")]
        options = [piece for opt in options for piece in opt.split(" or ")]
        message += _closest(given, [opt.strip(" '") for opt in options])
    return f"{message}; got {given!r}"


def _closest(given: str, options: list[str]) -> str:
    match = difflib.get_close_matches(given, options, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _fields_at(model: type[BaseModel], location: list[Any]) -> list[str]:
    """The keys a section allows, found by walking the model along `location`."""
    current: Any = model
    for part in location:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return []
        current = field.annotation
        for candidate in getattr(current, "__args__", ()) or ():
            if _is_model(candidate):
                current = candidate
    return list(current.model_fields) if _is_model(current) else []


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def dump_spec(spec: StudySpec) -> str:
    """The spec as YAML, with every default filled in (what actually ran)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
