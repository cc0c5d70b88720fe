"""Credentials out of what leantune shows or keeps: a URI's password becomes `***` in every line
printed, every error, and every file or MLflow record a study writes. Connecting still uses the
URI as given; only its shown and stored forms are redacted."""

from __future__ import annotations

import re

HIDDEN = "***"

# `scheme://user:password@host`: the password runs to the last `@` before the path, since an
# unescaped `@` in a password is common and urlsplit reads it that way too.
_USER_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s'\"]*):(?P<secret>[^/?#\s'\"]*)@"
)
# `?password=...` or `&password=...`, as some database URIs take it.
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&](?:password|passwd|pwd|token|secret|access_token)=)(?P<secret>[^&#\s'\"]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with the password of every URI in it replaced by `***`."""
    text = _USER_PASSWORD.sub(lambda m: f"{m['head']}:{HIDDEN}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{HIDDEN}", text)
