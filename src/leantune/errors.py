"""The one exception family for mistakes a user can fix (the CLI turns them into exit code 2)."""

from __future__ import annotations

from collections.abc import Iterable

from leantune._redact import redact


class LeantuneError(Exception):
    """A problem with the user's input: a study file, an argument, or data.

    ``problems`` holds one self-contained line per problem. Each names the field,
    what is allowed, and what was given.
    """

    def __init__(self, problems: str | Iterable[str]):
        given = [problems] if isinstance(problems, str) else list(problems)
        # A line may quote a URI the user gave; its password is never shown.
        self.problems = [redact(str(line)) for line in given]
        super().__init__("\n".join(self.problems))


class SpecError(LeantuneError):
    """The study spec is invalid. Nothing has started."""


class DatasetError(LeantuneError):
    """The dataset cannot be loaded or is unfit for training."""
