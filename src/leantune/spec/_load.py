"""Load a study spec from YAML or a dict, apply `--set key=value` overrides, and explain errors."""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
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
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SpecError(_too_large(path, path.stat().st_size))
        with path.open("rb") as stream:
            # Read one byte past the limit: a file that grew after stat is still caught.
            raw = stream.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise SpecError(_too_large(path, len(raw)))
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            f"{path}: a study file must be UTF-8 text (YAML); got byte "
            f"{error.object[error.start]:#04x} at offset {error.start} (a binary file?)"
        ) from None
    except OSError as error:
        raise SpecError(f"{path}: study file cannot be read ({error.strerror or error})") from None
    data = _bounded_yaml(text, str(path))
    if not isinstance(data, dict):
        raise SpecError(
            f"{path}: a study file must be a mapping of keys (name, dataset, model, ...); "
            f"got {type(data).__name__}"
        )
    return data


# A study file is a few KiB. The bounds keep a crafted one (a YAML alias tree that expands to
# billions of nodes, a list of a million items, lists nested 10,000 deep) from hanging the
# check or overflowing the stack; each is far beyond any real study.
MAX_FILE_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64


def _too_large(path: Path, size: int) -> str:
    return (
        f"{path}: a study file may be at most {MAX_FILE_BYTES // 1024} KiB "
        f"({MAX_FILE_BYTES} bytes); got {size} bytes"
    )


def _bounded_yaml(text: str, origin: str) -> Any:
    """`text` read as YAML, after checking its nesting depth and its size with every alias
    expanded, so that neither reading it nor validating it can hang or recurse too deep."""
    try:
        _check_depth(text, origin)
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expanded_size(node, origin)
            return loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _DuplicateKey as error:
        raise SpecError(f"{origin}: {error}") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SpecError(f"{origin}: not valid YAML{line}: {problem}") from None


def _check_depth(text: str, origin: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, and more than MAX_NODES values as written, from
    the parser's events: the parser is iterative (libyaml's when present, fast on a long
    list), the composer recursive, so this runs before the composer could overflow."""
    depth = values = 0
    try:
        events = list(_events(text))
    except yaml.YAMLError as error:
        # libyaml stops at 1,000 levels on its own: the same limit, said the same way.
        if "nesting depth" not in str(getattr(error, "problem", "")):
            raise
        line = error.problem_mark.line + 1 if error.problem_mark else 1
        raise SpecError(_too_deep(origin, line)) from None
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(_too_deep(origin, event.start_mark.line + 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            values += 1
            if values > MAX_NODES:
                raise SpecError(_too_many(origin, event.start_mark.line + 1))


def _events(text: str) -> Iterator[yaml.Event]:
    """The parser's events, stopping at the first past MAX_NODES values (a long list is
    refused without being parsed to its end)."""
    values = 0
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        yield event
        values += isinstance(event, yaml.NodeEvent)
        if values > MAX_NODES:
            return


def _too_deep(origin: str, line: int) -> str:
    return (
        f"{origin}: lists and mappings may nest at most {MAX_DEPTH} deep; got deeper at line {line}"
    )


def _too_many(origin: str, line: int) -> str:
    return (
        f"{origin}: a study file may hold at most {MAX_NODES:,} values, aliases expanded; got "
        f"more than {MAX_NODES:,} by line {line} (an alias that repeats a large value, or a "
        "very long list)"
    )


def _check_expanded_size(root: yaml.Node, origin: str) -> None:
    """Refuse a document of more than MAX_NODES values, counting each alias as the values it
    stands for (a node's count is computed once, so a billion-laughs tree costs little)."""
    counts: dict[int, int] = {}
    # Children before parents, without recursion: a node is counted once all below it are.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in counts:
            continue
        children = _children(node)
        if children_done:
            counts[id(node)] = min(1 + sum(counts[id(child)] for child in children), 1 << 62)
            if counts[id(node)] > MAX_NODES:
                raise SpecError(_too_many(origin, node.end_mark.line + 1))
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in counts)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _DuplicateKey(Exception):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (where the last would
    silently win). A key that overrides one merged in with `<<: *base` is no duplicate: that
    is what a merge is for."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
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
        # The merged keys go first, so the mapping's own keys override them.
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads `1e-4` (no dot) as text; YAML 1.2, and every study author, as a number.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _apply_override(raw: dict[str, Any], override: str) -> None:
    """Apply `a.b.c=value`; the value is read as YAML, so `3`, `0.1`, `[1, 2]` keep their type."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {override!r}: expected KEY=VALUE, e.g. output.dir=runs/mine")
    parts = key.strip().split(".")
    if not all(part.strip() for part in parts):
        raise SpecError(
            f"--set {override!r}: KEY must be field names joined by dots, e.g. "
            f"training.epochs=2; got {key.strip()!r}, which has an empty name"
        )
    try:
        value = _bounded_yaml(text, f"--set {override!r}")
    except SpecError as error:
        if "not valid YAML" not in error.problems[0]:
            raise
        # Read as text, `[` would silently become the string "[": say so instead.
        example = f'{key.strip()}="{text}"' if len(text) <= 40 else f'{key.strip()}="..."'
        raise SpecError(
            f"{error.problems[0]}. The value is read as YAML (`3`, `0.1`, `[1, 2]`); for text "
            f"that is not valid YAML, quote it: --set '{example}'"
        ) from None
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
    data = spec.model_dump(mode="json")
    if data["training"].get("max_steps") is not None:
        # The two lengths exclude each other: written with both, the file would not load back.
        data["training"].pop("epochs", None)
    return yaml.safe_dump(data, sort_keys=False)
