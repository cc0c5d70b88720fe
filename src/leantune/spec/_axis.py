"""One axis of the search space: an explicit list, or a compact power-of-two / power-of-ten range.

`{pow2: [1, max]}` is 2, 4, ..., up to the largest power of two that fits the training fold;
`{pow10: [-4, -1]}` is 1e-4, 1e-3, 1e-2, 1e-1. The bounds are exponents and both are included.
`{log: [0.0001, 0.1]}` is the continuous range itself, sampled log-uniformly by random search and
TPE (a grid needs discrete values); its bounds are values, both > 0.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer

AxisName = Literal["batch_size", "learning_rate", "alpha"]

# What each axis accepts, worded for error messages.
_ALLOWED = {
    "batch_size": "a list of positive integers, {pow2: [low, high]} or {pow2: [low, max]}",
    "learning_rate": (
        "a list of positive numbers, {pow10: [low, high]}, {pow2: [low, high]} or "
        "{log: [low, high]}"
    ),
    "alpha": (
        "a list of numbers >= 0, {pow10: [low, high]}, {pow2: [low, high]} or {log: [low, high]}"
    ),
}


# Exponents whose powers are normal float64 values: past them 10.0**e overflows (an error) or
# underflows towards 0.0 (a learning rate of zero trains nothing).
EXPONENT_RANGE = {"pow10": (-307, 308), "pow2": (-1022, 1023)}
# A batch size is a row count: 2**62 already exceeds any dataset, and past 2**63 it is no int64.
MAX_BATCH_EXPONENT = 62


class Axis(BaseModel):
    """A parsed axis. `resolve` turns it into concrete values once the fold size is known."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["values", "pow2", "pow10", "log"]
    values: tuple[float, ...] = ()
    low: int = 0
    high: int | Literal["max"] = 0
    lower: float = 0.0
    """kind log: the range's bounds (values, not exponents)."""
    upper: float = 0.0

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        # What a study file holds (the forms parse_axis reads), not the parsed model.
        def pair(bound: dict[str, Any], high: dict[str, Any] | None = None) -> dict[str, Any]:
            return {
                "type": "array",
                "prefixItems": [bound, high or bound],
                "minItems": 2,
                "maxItems": 2,
            }

        def form(key: str, bounds: dict[str, Any]) -> dict[str, Any]:
            return {
                "type": "object",
                "properties": {key: bounds},
                "required": [key],
                "additionalProperties": False,
            }

        exponent = {"type": "integer"}
        return {
            "description": "A list of values; {pow2: [low, high]} (high may be 'max': the "
            "largest that fits the training fold) or {pow10: [low, high]}, exponents, both "
            "included; or {log: [low, high]}, a continuous range for random search and TPE.",
            "anyOf": [
                {"type": "array", "items": {"type": "number"}, "minItems": 1},
                form("pow2", pair(exponent, {"anyOf": [exponent, {"const": "max"}]})),
                form("pow10", pair(exponent)),
                form("log", pair({"type": "number", "exclusiveMinimum": 0})),
            ],
        }

    @property
    def continuous(self) -> bool:
        """A range only samplers can draw from; a grid cannot enumerate it."""
        return self.kind == "log"

    def resolve(self, max_batch_size: int) -> list[Any]:
        """Concrete values. `max_batch_size` is the smallest training fold's size."""
        if self.kind == "log":
            raise ValueError(f"{self.name}: a {{log: [low, high]}} range has no discrete values")
        if self.kind == "values":
            values = list(self.values)
        else:
            base = 2 if self.kind == "pow2" else 10
            high = int(math.log2(max_batch_size)) if self.high == "max" else self.high
            values = [float(base) ** exponent for exponent in range(self.low, high + 1)]
        if self.name == "batch_size":
            return [int(v) for v in values]
        return [float(v) for v in values]

    @model_serializer
    def _as_written(self) -> Any:
        # Serialize in the form a user writes, so a dumped spec loads again.
        if self.kind == "values":
            if self.name == "batch_size":
                return [int(v) for v in self.values]
            return list(self.values)
        if self.kind == "log":
            return {"log": [self.lower, self.upper]}
        return {self.kind: [self.low, self.high]}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A number a float64 holds: an int too large for one (10**400) is not."""
    try:
        return _is_number(value) and math.isfinite(value)
    except OverflowError:
        return False


def parse_axis(value: Any, name: str) -> Axis:
    """Parse a user's axis, raising ValueError with a message that says what is allowed."""
    if isinstance(value, Axis):
        return value
    allowed = _ALLOWED[name]
    if _is_number(value):
        value = [value]
    if isinstance(value, list):
        return _parse_values(value, name, allowed)
    if isinstance(value, dict):
        return _parse_range(value, name, allowed)
    raise ValueError(f"must be {allowed}; got {value!r}")


def _parse_values(values: list[Any], name: str, allowed: str) -> Axis:
    if not values:
        raise ValueError(f"must be {allowed}; got an empty list")
    for value in values:
        if name == "batch_size":
            ok = _is_int(value) and 1 <= value <= 2**MAX_BATCH_EXPONENT
        elif name == "learning_rate":
            ok = _is_finite(value) and value > 0
        else:
            ok = _is_finite(value) and value >= 0
        if not ok:
            raise ValueError(f"must be {allowed}; got {value!r} in {values!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"lists a value twice; got {values!r}")
    return Axis(name=name, kind="values", values=tuple(float(v) for v in values))


def _parse_range(spec: dict[str, Any], name: str, allowed: str) -> Axis:
    if len(spec) != 1 or next(iter(spec)) not in ("pow2", "pow10", "log"):
        raise ValueError(f"must be {allowed}; got {spec!r}")
    kind, bounds = next(iter(spec.items()))
    if kind == "log":
        return _parse_log(bounds, name)
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise ValueError(f"{kind} takes two exponents [low, high]; got {bounds!r}")
    low, high = bounds
    if high == "max":
        if name != "batch_size" or kind != "pow2":
            raise ValueError(
                f"'max' is only allowed as the upper bound of batch_size's pow2 range; "
                f"got {{{kind}: {bounds!r}}}"
            )
    elif not _is_int(high):
        raise ValueError(f"{kind} exponents must be integers; got high={high!r}")
    if not _is_int(low):
        raise ValueError(f"{kind} exponents must be integers; got low={low!r}")
    if high != "max" and low > high:
        raise ValueError(f"{kind} needs low <= high; got low={low}, high={high}")
    if name == "batch_size" and (kind != "pow2" or low < 0):
        if kind != "pow2":
            raise ValueError(f"batch_size takes pow2 ranges only; got {{{kind}: {bounds!r}}}")
        raise ValueError(f"batch_size's pow2 exponents must be >= 0; got low={low}")
    if name == "batch_size":
        least, most, beyond = 0, MAX_BATCH_EXPONENT, "no dataset has that many rows"
    else:
        least, most = EXPONENT_RANGE[kind]
        beyond = "a float64 overflows, or underflows to 0"
    for label, exponent in (("low", low), ("high", high)):
        if exponent != "max" and not least <= exponent <= most:
            raise ValueError(
                f"{kind} exponents for {name} must be between {least} and {most} (beyond, "
                f"{beyond}); got {label}={exponent}"
            )
    return Axis(name=name, kind=kind, low=low, high=high)


def _parse_log(bounds: Any, name: str) -> Axis:
    if name == "batch_size":
        raise ValueError(
            f"batch_size takes a list or a pow2 range, not a continuous log range; "
            f"got {{log: {bounds!r}}}"
        )
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise ValueError(f"log takes two values [low, high]; got {bounds!r}")
    low, high = bounds
    for label, value in (("low", low), ("high", high)):
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise ValueError(
                f"log needs bounds > 0 (a log scale has no zero or negative values); "
                f"got {label}={value!r}"
            )
    if low >= high:
        raise ValueError(f"log needs low < high; got low={low}, high={high}")
    return Axis(name=name, kind="log", lower=float(low), upper=float(high))
