"""The `leantune` command line."""

from leantune.cli._app import app, main

__all__ = ["app", "main"]
