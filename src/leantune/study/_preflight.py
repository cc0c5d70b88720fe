"""The checks made before a study starts anything: the run directory can be made, the tracking
store and the Ray cluster answer, a trial fits the machine. Every network check is bounded.

`prepare_study` runs them, so `leantune validate` and `leantune run` refuse the same mistakes,
and a refused study has written nothing and started no process.
"""

from __future__ import annotations

import math
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from leantune.errors import SpecError
from leantune.spec import StudySpec

# A service that has not answered in this long is reported as down rather than waited for.
PROBE_TIMEOUT_S = 5.0

# Database URLs MLflow accepts (SQLAlchemy's names, with or without a "+driver"), and the port
# each one listens on when the URL names none.
_DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
_URI_FORMS = (
    "a path, file:PATH, sqlite:///PATH, http(s)://HOST[:PORT] or a database URL "
    "(postgresql://, mysql://, mssql://)"
)
_RAY_FORMS = "'auto', 'local', 'HOST:PORT' or 'ray://HOST:PORT'"
_RAY_CLIENT_PORT = 10001


def preflight(spec: StudySpec, run_dir: Path, *, resume: bool = False) -> None:
    """Raise SpecError, one line per problem, for anything that would fail once started."""
    problems = [
        *_run_dir_problems(run_dir, "RUN_DIR" if resume else "output.dir", resume=resume),
        *_tracking_problems(spec),
        *_ray_problems(spec),
    ]
    if problems:
        raise SpecError(problems)


# -- the planned work --------------------------------------------------------------------------

# A study's steps, summed over configs and folds, at most. A step of SGD costs tens of µs to a
# few ms; 10^9 of them is days of CPU: beyond it, the plan is more likely a typo than a wish.
MAX_PLANNED_STEPS = 10**9
# A step's cost for the estimate in the refusal: a lower bound (a small batch, a few features).
_STEP_COST_S = 20e-6


def plan_problem(
    spec: StudySpec, fold_rows: int, batch_sizes: list[int], n_configs: int
) -> str | None:
    """A line saying what the plan would cost, if its steps pass MAX_PLANNED_STEPS."""
    folds = spec.validation.cv_folds
    if spec.training.max_steps is not None:
        per_fold = spec.training.max_steps
        how = f"training.max_steps={spec.training.max_steps:,}"
    else:
        per_fold = spec.training.epochs * math.ceil(fold_rows / max(min(batch_sizes), 1))
        how = (
            f"training.epochs={spec.training.epochs:,} over {fold_rows:,} rows at batch "
            f"size {min(batch_sizes)}"
        )
    total = n_configs * folds * per_fold
    if total <= MAX_PLANNED_STEPS:
        return None
    hours = total * _STEP_COST_S / 3600
    return (
        f"training: a study may plan at most {MAX_PLANNED_STEPS:,} training steps; this one "
        f"plans {total:,} ({n_configs:,} configs × {folds} folds × up to {per_fold:,} steps, "
        f"from {how}), at least {hours:,.0f} CPU-hours. Lower training.epochs or "
        "training.max_steps, or search fewer configs"
    )


# -- the run directory -------------------------------------------------------------------------


def _run_dir_problems(run_dir: Path, field: str, *, resume: bool) -> Iterator[str]:
    text = str(run_dir)
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        yield (f"{field}: must not contain control characters (a newline, a tab); got {text!r}")
        return
    path = Path(os.path.abspath(run_dir.expanduser()))
    if resume:
        # The directory exists; the study will write into it and its state/ folder.
        problem = _probe_writable(path)
        if problem:
            yield f"{field}: {text!r} cannot be written ({problem}); resume needs to write there"
        return
    problem = _creatable(path)
    if problem:
        yield f"{field}: must be a directory leantune can create and write; got {text!r}, {problem}"


def _creatable(path: Path) -> str | None:
    """Why `path` cannot be made a writable directory, or None. Leaves nothing behind."""
    name_max = _pathconf(path, "PC_NAME_MAX", 255)
    long_parts = [part for part in path.parts if len(os.fsencode(part)) > name_max]
    if long_parts:
        return f"whose name {long_parts[0][:40]!r}… is longer than {name_max} bytes"
    if len(os.fsencode(str(path))) >= _pathconf(path, "PC_PATH_MAX", 4096):
        return "whose path is longer than this system allows"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"but {str(existing)!r} is a file, not a directory"
    if existing == path:
        return _probe_writable(path)
    # Make the first missing folder and take it away again: only that shows the file system
    # allows it (/proc refuses even root, a read-only mount refuses everyone).
    first_missing = existing / path.relative_to(existing).parts[0]
    try:
        first_missing.mkdir()
    except OSError as error:
        return f"which cannot be created in {str(existing)!r} ({error.strerror or error})"
    first_missing.rmdir()
    return None


def _probe_writable(directory: Path) -> str | None:
    if not directory.is_dir():
        return "which is not a directory"
    probe = directory / f".leantune-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError as error:
        return error.strerror or str(error)
    probe.rmdir()
    return None


def _pathconf(path: Path, name: str, default: int) -> int:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return os.pathconf(existing, name)
    except (OSError, ValueError):
        return default


# -- the tracking store ------------------------------------------------------------------------


def _tracking_problems(spec: StudySpec) -> Iterator[str]:
    uri = spec.tracking_uri
    if not uri:
        return
    field = "tracking.uri" if spec.tracking.uri else "output.tracking_uri"
    parts = urlsplit(uri)
    scheme = parts.scheme.lower().split("+")[0]
    if len(scheme) == 1 or not scheme:  # a plain path (or a Windows drive letter)
        problem = _store_path_problem(Path(uri))
    elif scheme == "file":
        problem = _store_path_problem(Path(parts.path))
    elif scheme == "sqlite":
        problem = _sqlite_problem(uri)
    elif scheme in ("http", "https"):
        problem = _server_problem(uri, parts)
    elif scheme in _DATABASE_PORTS:
        problem = _database_problem(parts, _DATABASE_PORTS[scheme])
    elif scheme == "databricks":
        problem = None  # its own profile machinery; nothing to reach without credentials
    else:
        problem = f"must be {_URI_FORMS}"
    if problem:
        yield f"{field}: {problem}; got {uri!r}"


def _store_path_problem(path: Path) -> str | None:
    if path.exists():
        return None if path.is_dir() else "names a file where MLflow needs a directory"
    problem = _creatable(Path(os.path.abspath(path.expanduser())))
    return f"is a directory leantune cannot create ({problem})" if problem else None


def _sqlite_problem(uri: str) -> str | None:
    if not uri.lower().startswith("sqlite:///"):
        return "a sqlite store is written sqlite:///PATH (three slashes, then the file's path)"
    location = uri[len("sqlite:///") :]
    if location in ("", ":memory:"):
        return "an in-memory sqlite store forgets the study when it ends; give a file's path"
    database = Path(location)
    if database.is_dir():
        return "names a directory; a sqlite store is a file"
    if not database.parent.is_dir():
        return f"names a file in {str(database.parent)!r}, which is not an existing directory"
    return None


def _server_problem(uri: str, parts: SplitResult) -> str | None:
    host, port_problem = _host_and_port(parts)
    if not host or port_problem:
        return port_problem or "an http(s) tracking URI needs a host, e.g. http://HOST:5000"
    # Credentials in the URI (user:password@) are no part of the address urllib opens; the
    # health check needs none, and the line below may quote the address.
    address = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    health = f"{urlunsplit(address).rstrip('/')}/health"
    try:
        with urllib.request.urlopen(health, timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered: a proxy's 404 or 401 still is a server
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return (
            f"the MLflow server does not answer (tried GET {health}, waiting up to "
            f"{PROBE_TIMEOUT_S:g} s: {reason}); start it, or leave the key out to log to "
            "a sqlite file in the run directory"
        )


def _database_problem(parts: SplitResult, default_port: int) -> str | None:
    host, port_problem = _host_and_port(parts)
    if port_problem:
        return port_problem
    if not host:
        return "a database URL needs a host, e.g. postgresql://USER@HOST:5432/DB"
    port = parts.port or default_port
    problem = _connect_problem(host, port)
    return f"the database does not answer ({problem})" if problem else None


def _host_and_port(parts: SplitResult) -> tuple[str | None, str | None]:
    try:
        port = parts.port  # raises for a port that is no number or out of range
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        return None, "the port must be a number from 1 to 65535"
    return parts.hostname, None


def _connect_problem(host: str, port: int) -> str | None:
    """None if a TCP connection to host:port opens within the timeout, else what happened."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return None
    except TimeoutError:
        return f"tried {host}:{port}, waiting up to {PROBE_TIMEOUT_S:g} s: no answer"
    except OSError as error:
        return f"tried {host}:{port}: {error.strerror or error}"


# -- Ray and the CPUs --------------------------------------------------------------------------


def _ray_problems(spec: StudySpec) -> Iterator[str]:
    resources = spec.resources
    address = resources.ray_address
    if address in (None, "local"):
        cpus = os.cpu_count() or 1
        if resources.cpus_per_trial > cpus:
            yield (
                f"resources.cpus_per_trial: must be at most the {cpus} CPUs of this machine "
                f"(the local Ray has {cpus}), or no trial is ever placed; got "
                f"{resources.cpus_per_trial}"
            )
        return
    target, problem = _ray_target(address)
    if problem is None and target is not None:
        problem = _grpc_problem(*target)
    if problem:
        yield f"resources.ray_address: {problem}; got {address!r}"


def _ray_target(address: str) -> tuple[tuple[str, int] | None, str | None]:
    """The (host, port) to probe for a Ray address, or why the address is not one."""
    if address == "auto":
        found = os.environ.get("RAY_ADDRESS") or _current_cluster()
        if not found or found == "auto":
            return None, (
                "'auto' joins the Ray cluster running on this machine, but none is running "
                "(no RAY_ADDRESS, no /tmp/ray/ray_current_cluster); start one with `ray start "
                "--head`, or leave ray_address out to start a private Ray"
            )
        address = found
    client = address.startswith("ray://")
    parts = urlsplit(address if client else f"//{address}")
    host, port_problem = _host_and_port(parts)
    if port_problem or not host or parts.path or parts.query:
        return None, f"must be {_RAY_FORMS}" + (f" ({port_problem})" if port_problem else "")
    port = parts.port or (_RAY_CLIENT_PORT if client else None)
    if port is None:
        return None, f"must be {_RAY_FORMS}; the port is missing"
    return (host, port), None


# An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS, Ray's
# client server) answers with a SETTINGS frame of its own. ray.init would instead wait for
# minutes on a port where something else listens.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS_FRAME = 0x04


def _grpc_problem(host: str, port: int) -> str | None:
    unreachable = _connect_problem(host, port)
    if unreachable:
        return f"no Ray cluster answers there ({unreachable})"
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S) as connection:
            connection.settimeout(PROBE_TIMEOUT_S)
            connection.sendall(_HTTP2_HELLO)
            header = connection.recv(9)
    except OSError:  # a timeout, or a reset by a server that speaks something else
        header = b""
    if len(header) < 9 or header[3] != _SETTINGS_FRAME:
        return (
            f"something listens at {host}:{port}, but it does not answer as a Ray cluster "
            f"(no gRPC reply within {PROBE_TIMEOUT_S:g} s)"
        )
    return None


def _current_cluster() -> str | None:
    try:
        return Path("/tmp/ray/ray_current_cluster").read_text().strip() or None
    except OSError:
        return None
