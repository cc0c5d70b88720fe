"""Search-space values that outlive a search: a sampled axis and a config's identity."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LogUniform:
    """A continuous axis sampled log-uniformly in [low, high] (random search and TPE)."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


def config_key(config: Mapping[str, Any]) -> str:
    """A config's identity across sessions (state files round-trip ints and floats exactly)."""
    return json.dumps(dict(config), sort_keys=True, default=str)
