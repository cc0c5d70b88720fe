"""A campaign file: several studies run and reported together, written down as YAML rather
than as a command line. `leantune study thesis CAMPAIGN.yaml` reads one; a flag given on the
command line wins over the file's key of the same name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from leantune.errors import LeantuneError

MAX_FILE_BYTES = 1 << 20


class ThesisCampaign(BaseModel):
    """The thesis campaign (the original study's sets and grid, repeated): every key is the
    `leantune study thesis` flag of the same name, and optional."""

    model_config = ConfigDict(extra="forbid")

    campaign: Literal["thesis"] = "thesis"
    datasets: list[str] | str | None = None
    """Sets by name: a list, or comma-separated as on the command line."""
    train_time_s: float | None = None
    subsample: int | None = None
    cv_folds: int | None = None
    compare_stopping: bool | None = None
    repeats: int | None = None
    synthetic_missing: bool | None = None
    memory_mb: float | None = None
    seed: int | None = None
    backend: list[str] | str | None = None
    """sklearn, minibatch, both, or a list."""
    overhead_steps: int | None = None
    cache_dir: Path | None = None
    output_dir: Path | None = None

    def flags(self) -> dict[str, Any]:
        """The keys the file sets, as the command's flags take them (lists comma-joined)."""
        given = self.model_dump(exclude_unset=True, exclude={"campaign"})
        return {k: ",".join(v) if isinstance(v, list) else v for k, v in given.items()}


def load_campaign(path: Path) -> ThesisCampaign:
    """Read and check a campaign file: LeantuneError with one line per problem, naming the key,
    what it takes and what it got."""
    if not path.is_file():
        raise LeantuneError(f"CAMPAIGN: {str(path)!r} is not a file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LeantuneError(f"CAMPAIGN: {path} is over 1 MiB; a campaign file is a few lines")
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise LeantuneError(f"CAMPAIGN: {path} cannot be read as YAML ({error})") from None
    if not isinstance(raw, dict):
        raise LeantuneError(
            f"CAMPAIGN: {path} must be a mapping of keys (datasets, repeats, ...); "
            f"got {type(raw).__name__}"
        )
    try:
        return ThesisCampaign.model_validate(raw)
    except ValidationError as error:
        raise LeantuneError(
            [
                f"{path}: {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}; "
                f"got {problem['input']!r}"
                for problem in error.errors()
            ]
        ) from None
