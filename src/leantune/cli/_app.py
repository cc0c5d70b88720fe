"""The `leantune` command: run, validate, and browse studies."""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from leantune._redact import redact
from leantune._signals import stop_on_sigterm
from leantune.errors import LeantuneError

app = typer.Typer(
    name="leantune",
    help="Tune SGD training to an application's resource limits (memory, time, CPU).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    epilog="Exit codes: 0 done; 2 a problem with the input, one line each, nothing started; "
    "130 interrupted (Ctrl-C or SIGTERM), what ended is saved (`leantune resume RUN_DIR`).",
)
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a spec key, e.g. --set output.dir=runs/mine --set training.epochs=2",
        metavar="KEY=VALUE",
    ),
]
StudyFile = Annotated[Path, typer.Argument(help="Study file (YAML).", show_default=False)]


def user_errors(command: F) -> F:
    """A user's mistake prints one line per problem and exits 2, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Warnings (a FutureWarning, numpy's RuntimeWarning) are held back: above a refusal's
        # one line they are noise; otherwise they are shown when the command ends.
        held: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as held:  # the filters as they were
                return command(*args, **kwargs)
        except LeantuneError as error:
            held.clear()
            for line in error.problems:
                # The line holds user text ("[/]", "[low, high]"): printed as it is, never markup.
                stderr.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
            if getattr(error, "exit_at_once", False):
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(2)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            stderr.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        finally:
            for caught in held:
                warnings.showwarning(
                    caught.message, caught.category, caught.filename, caught.lineno
                )

    return wrapper  # type: ignore[return-value]


def _version(show: bool) -> None:
    if show:
        from leantune._version import __version__

        stdout.print(f"leantune {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log lines on the terminal: leantune's and the libraries' INFO."
        ),
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            help="Append every log line (leantune's and the libraries') to this file.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    from leantune.cli._logging import configure

    configure(verbose, log_file)


@app.command()
@user_errors
def run(
    study: StudyFile,
    set_: SetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    compare_stopping: Annotated[
        bool,
        typer.Option(
            "--compare-stopping",
            help="Run the study twice on the same seeds, with its stopping policies and with "
            "stopping off, into RUN_DIR/stopped and RUN_DIR/unstopped, and compare them (RQ2).",
        ),
    ] = False,
) -> None:
    """Run a study: search, stop on constraints, pick the best feasible config, test it."""
    from leantune.spec import load_spec
    from leantune.study import StudyInterrupted, run_comparison, run_study

    spec = load_spec(study, set_ or [])
    if compare_stopping:
        from leantune.cli._summary import print_comparison

        _finish(
            lambda _: run_comparison(spec, console=stderr, show_progress=not quiet),
            StudyInterrupted,
            show=print_comparison,
        )
    else:
        _finish(
            lambda shown: run_study(
                spec, console=stderr, show_progress=not quiet, on_summary=shown
            ),
            StudyInterrupted,
        )


@app.command()
@user_errors
def resume(
    run_dir: Annotated[
        Path, typer.Argument(help="The run directory of an interrupted study.", show_default=False)
    ],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    rebuild_store: Annotated[
        bool,
        typer.Option(
            "--rebuild-store",
            help="The study's sqlite MLflow store is gone: make a new one and write every "
            "ended trial's run into it again from state/ (which holds every report).",
        ),
    ] = False,
) -> None:
    """Finish an interrupted or killed study: ended trials stay, the rest run."""
    from leantune.study import StudyInterrupted, resume_study

    _finish(
        lambda shown: resume_study(
            run_dir,
            console=stderr,
            show_progress=not quiet,
            on_summary=shown,
            rebuild_store=rebuild_store,
        ),
        StudyInterrupted,
    )


def _finish(
    study: Callable[[Callable[[dict[str, Any]], None]], Any],
    interrupted_error: type[Exception],
    show: Callable[[Any, Console], None] | None = None,
) -> None:
    # SIGTERM (a scheduler, `kill`) gets the same graceful stop as Ctrl-C. The engine sets
    # this again once Ray has started, since Ray installs its own handler.
    stop_on_sigterm()
    from leantune.cli._logging import quiet_libraries
    from leantune.cli._summary import print_report_line, print_summary, report_asked

    quiet_libraries()  # the study's libraries are imported by now

    shown: list[str] = []

    def show_summary(summary: dict[str, Any]) -> None:
        # Printed as soon as the results are saved; where the report is, once it is drawn.
        print_summary(summary, stdout, _since_process_start(), report_line=False)
        if report_asked(summary["run_dir"]):
            stderr.print("writing the report…", highlight=False)
        shown.append(summary["run_dir"])

    try:
        result = study(show_summary)
    except interrupted_error as interrupted:
        stderr.print(f"[yellow]{escape(str(interrupted))}[/]", highlight=False)
        raise typer.Exit(130) from None
    if show is not None:
        show(result, stdout)
    elif shown:
        print_report_line(shown[0], stdout)
    else:
        print_summary(result.summary, stdout, _since_process_start())


def _since_process_start() -> float | None:
    """Seconds since this process started: the wall time a user waited, imports included."""
    import time

    import psutil

    try:
        return time.time() - psutil.Process().create_time()
    except psutil.Error:
        return None


@app.command()
@user_errors
def report(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run directory, a --compare-stopping directory, or a thesis directory.",
            show_default=False,
        ),
    ],
    mlflow: Annotated[
        bool,
        typer.Option(help="Attach the rebuilt report to the run's MLflow parent run too."),
    ] = True,
) -> None:
    """Rebuild the report (report.html, report.md, CSV tables) from stored results alone."""
    from leantune.report import rebuild

    written = rebuild(run_dir)
    for item in written:
        stdout.print(f"wrote {item.html} · {item.markdown} · {item.files_dir}/", highlight=False)
    if mlflow:
        _attach_reports(written)


@app.command()
@user_errors
def replay(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A recorded run (best: one run with stopping off).", show_default=False
        ),
    ],
    study: StudyFile,
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the measures as JSON.")] = False,
) -> None:
    """Judge a study's rules on a recorded run, training nothing: what they would stop, skip and
    pick, how many stops are false against the complete records, and the pick's regret."""
    from leantune.spec import load_spec
    from leantune.study import replay_rules

    measures = replay_rules(run_dir, load_spec(study, set_ or [])).measures
    if as_json:
        stdout.print_json(json.dumps(measures, default=str))
        return
    stdout.print(
        f"{measures['trials']} trials replayed · {measures['limit_stops']} stopped or skipped "
        f"for a limit, {measures['false_stops']} of them false (their complete record met "
        f"every limit) · CPU {measures['replayed_cpu_s']:.2f} s replayed against "
        f"{measures['recorded_cpu_s']:.2f} s recorded",
        highlight=False,
    )
    if measures["incomplete"]:
        stdout.print(
            f"[yellow]{measures['incomplete']} recording(s) end before these rules would end "
            "them (the recorded run stopped them): they count as failed. Replay a run made "
            "with stopping.enabled: false to judge every config.[/]",
            highlight=False,
        )
    if measures["pick"] is None:
        stdout.print("No config would be picked: none is within every limit.", highlight=False)
        return
    complete = measures["pick_complete_value"]
    worth = (
        f"{complete:.4g} on its complete record"
        if complete is not None
        else "over a limit or under a floor on its complete record"
    )
    stdout.print(
        f"Pick: {measures['pick']} (chosen on {measures['pick_value']:.4g}; {worth}); best "
        f"within every limit {measures['best']} ({measures['best_value']:.4g}); regret "
        f"{measures['regret']:.4g}",
        highlight=False,
    )


def _attach_reports(written: list[Any]) -> None:
    from leantune.results import RunDir
    from leantune.tracking import attach_artifacts, run_store_uri

    for item in written:
        files = RunDir(item.html.parent)
        if not files.is_run:
            continue  # a comparison or a chapter: no parent run of its own
        summary = files.read_summary()
        run_id = summary.mlflow_parent_run_id
        uri = run_store_uri(files.path, summary.tracking_uri)
        if not run_id or not uri:
            continue
        try:
            attach_artifacts(uri, run_id, item.paths)
        except Exception as error:  # the files are written; the store is a copy
            stderr.print(
                escape(redact(f"Not attached to MLflow run {run_id} ({uri}): {error}")),
                style="yellow",
                highlight=False,
            )


ray_app = typer.Typer(
    help="A local Ray kept running between studies: each study then skips Ray's start and stop.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(ray_app, name="ray")


@ray_app.command("start")
@user_errors
def ray_start(
    cpus: Annotated[
        int | None, typer.Option(help="CPUs for trials. Default: all.", show_default=False)
    ] = None,
) -> None:
    """Start a local Ray that every study on this machine joins until `leantune ray stop`."""
    from leantune.engine._persistent import start

    try:
        state = start(cpus)
    except RuntimeError as error:
        raise LeantuneError(f"ray start: {error}") from None
    stdout.print(
        f"Ray runs at {state['address']} ({state['cpus']} CPUs, owner pid {state['pid']}); "
        "studies join it until `leantune ray stop`",
        highlight=False,
    )


@ray_app.command("stop")
@user_errors
def ray_stop() -> None:
    """Stop the local Ray that `leantune ray start` started (and no other)."""
    from leantune.engine._persistent import stop

    stdout.print("stopped" if stop() else "no Ray started by `leantune ray start` runs")


study_app = typer.Typer(
    help="Campaigns: several studies run and reported together, from a campaign file (YAML) "
    "or flags.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(study_app, name="study")


@study_app.command()
@user_errors
def thesis(
    ctx: typer.Context,
    campaign: Annotated[
        Path | None,
        typer.Argument(
            help="A campaign file (YAML): the flags below as keys, e.g. `datasets: mnist,kddcup` "
            "or a list, `repeats: 3`, `cv_folds: 5` (paths as on the command line); a flag "
            "given here wins over the file.",
            show_default=False,
        ),
    ] = None,
    datasets: Annotated[
        str,
        typer.Option(help="Comma-separated sets of the original study to run."),
    ] = "mnist,kddcup,diabetes,1191_BNG_pbc,529_pollen",
    train_time_s: Annotated[
        float | None,
        typer.Option(
            help="An absolute training-time limit per trial, s, all folds, CPU clock "
            "(constraints.train_time_s). Default: limits relative to each set, at the training "
            "and step times that 25, 50 and 75 % of its configs meet (measured first).",
            show_default=False,
        ),
    ] = None,
    subsample: Annotated[
        int,
        typer.Option(
            help="Train on a seeded subsample of this many rows of any larger set (stratified "
            "for classification); 0: every row. Every output says so next to what it affects."
        ),
    ] = 2000,
    cv_folds: Annotated[
        int, typer.Option(help="Cross-validation folds (validation.cv_folds).")
    ] = 5,
    compare_stopping: Annotated[
        bool,
        typer.Option(
            "--compare-stopping/--no-compare-stopping",
            help="Besides the unstopped arm, run a stopped arm at each measured limit level "
            "(the predictive rule cannot be replayed). Off: RQ2 from replay of the constraint "
            "rule only.",
        ),
    ] = True,
    repeats: Annotated[
        int,
        typer.Option(
            help="Seeds per set (seed, seed + 1, ...); every repeat after the first runs its "
            "trials in a seeded shuffled order (RQ1's run-order control)."
        ),
    ] = 3,
    synthetic_missing: Annotated[
        bool,
        typer.Option(
            "--synthetic-missing",
            help="Run a set whose data is not available offline as its labelled SYNTHETIC "
            "stand-in instead of skipping it.",
        ),
    ] = False,
    memory_mb: Annotated[
        float, typer.Option(help="Private-memory limit per trial, MB (constraints.memory_mb).")
    ] = 1024.0,
    seed: Annotated[int, typer.Option(help="Seed for splits, row order and subsamples.")] = 0,
    backend: Annotated[
        str,
        typer.Option(
            help="How models train: sklearn (partial_fit, one update per sample: batch size "
            "changes overhead, not learning), minibatch (one update per batch, compiled: "
            "batch size changes what is learned), or both (sklearn,minibatch: every set under "
            "each, into <set>/<backend>/, side by side in the chapter)."
        ),
    ] = "sklearn",
    overhead_steps: Annotated[
        int | None,
        typer.Option(
            help="Under sklearn, train this many steps a fold (training.max_steps) at one "
            "learning rate and one alpha: the overhead arm, batch size timed at a bounded cost "
            "(its full grid on all of kddcup takes days of CPU). 0: the full grid, one epoch a "
            "fold. Default: 10 beside minibatch, else 0.",
            show_default=False,
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="PMLB cache. Default: $LEANTUNE_PMLB_CACHE, else ~/.cache/leantune/pmlb.",
            show_default=False,
        ),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(help="Default: runs/thesis-<timestamp>.", show_default=False),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    # The names before they matched the spec's keys; still accepted, no longer shown.
    max_train_seconds: Annotated[float | None, typer.Option(hidden=True)] = None,
    folds: Annotated[int | None, typer.Option(hidden=True)] = None,
    max_memory_mb: Annotated[float | None, typer.Option(hidden=True)] = None,
) -> None:
    """The thesis campaign, the original study's setup: five PMLB sets, the thesis grid,
    70/30 split, 5-fold CV, a report every 100 steps, one CPU per trial, repeated; writes
    results.md and results.html."""
    from leantune.study import StudyInterrupted
    from leantune.study._campaign import load_campaign
    from leantune.study._thesis import ThesisOptions, backends_from_text, run_thesis

    given = dict(ctx.params)  # every flag's value, by its parameter name
    if campaign is not None:
        given.update(
            (key, value)
            for key, value in load_campaign(campaign).flags().items()
            # Typer carries its own click: the source is compared by name.
            if getattr(ctx.get_parameter_source(key), "name", None) != "COMMANDLINE"
        )
    options = ThesisOptions(
        datasets=tuple(name.strip() for name in given["datasets"].split(",") if name.strip()),
        max_train_seconds=given["train_time_s"] if max_train_seconds is None else max_train_seconds,
        subsample=given["subsample"],
        folds=given["cv_folds"] if folds is None else folds,
        compare_stopping=given["compare_stopping"],
        repeats=given["repeats"],
        synthetic_missing=given["synthetic_missing"],
        memory_mb=given["memory_mb"] if max_memory_mb is None else max_memory_mb,
        seed=given["seed"],
        backends=backends_from_text(given["backend"]),
        overhead_steps=given["overhead_steps"],
        cache_dir=given["cache_dir"],
        output_dir=given["output_dir"],
    )
    stop_on_sigterm()
    try:
        result = run_thesis(options, console=stderr, show_progress=not quiet)
    except StudyInterrupted as interrupted:
        stderr.print(f"[yellow]{escape(str(interrupted))}[/]", highlight=False)
        raise typer.Exit(130) from None
    several = len(options.backends) > 1
    for outcome in result.outcomes:
        how = (
            f"{outcome.data} data, {outcome.wall_time_s:.0f} s → {result.output_dir / outcome.dir}"
            if outcome.status == "ran"
            else outcome.reason
        )
        who = f"{outcome.name} ({outcome.backend})" if several else outcome.name
        stdout.print(f"{who}: {outcome.status}: {how}", highlight=False)
    stdout.print(f"Results chapter: {result.chapter[0]} (and results.md)", highlight=False)
    stdout.print(f"Regenerate every number: {result.command}", highlight=False)


@app.command(
    help="Check a study file (and its dataset) without running anything.\n\n"
    "An estimator named by import path (model: [{estimator: module.Class}]) is imported to "
    "check it, so its module's top-level code runs, as on any import; what it prints is kept "
    "off the terminal. Validate a study file only if you would run the code it names."
)
@user_errors
def validate(study: StudyFile, set_: SetOption = None) -> None:
    """Check a study file (and its dataset) without running anything."""
    from leantune.spec import load_spec
    from leantune.study import check_study

    checked = check_study(load_spec(study, set_ or []))
    search = checked.spec.search
    axes = ", ".join(
        f"{name} {len(values)}" if isinstance(values, list) else f"{name} {values}"
        for name, values in checked.param_space.items()
    )
    how = "" if search.method == "grid" else f" sampled by {search.method}"
    stdout.print(
        f"[green]ok[/]: {checked.dataset.describe()}\n"
        f"  {checked.n_trials} configs{how} ({axes}) × {checked.n_folds} folds",
        highlight=False,
    )


@app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The Markdown reference (docs/study-file.md).")
    ] = False,
) -> None:
    """Print the study file's JSON Schema (for editors), every key with its default and text."""
    from leantune.spec._reference import json_schema, markdown_reference

    text = markdown_reference() if markdown else json.dumps(json_schema(), indent=2)
    sys.stdout.write(text + "\n")


_SHELLS = ("bash", "zsh", "fish")


@app.command()
@user_errors
def completion(
    shell: Annotated[
        str, typer.Argument(help="bash, zsh or fish.", show_default=False, metavar="SHELL")
    ],
) -> None:
    """Print the shell completion script, e.g. `leantune completion bash >> ~/.bashrc`
    (`--install-completion` installs it for the shell leantune runs in)."""
    if shell not in _SHELLS:
        raise LeantuneError(f"SHELL: must be one of {', '.join(_SHELLS)}; got {shell!r}")
    from typer._completion_shared import get_completion_script

    script = get_completion_script(
        prog_name="leantune", complete_var="_LEANTUNE_COMPLETE", shell=shell
    )
    sys.stdout.write(script.rstrip("\n") + "\n")


@app.command()
@user_errors
def datasets(
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            help="PMLB cache to look in. Default: $LEANTUNE_PMLB_CACHE, else "
            "~/.cache/leantune/pmlb.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
) -> None:
    """List the known datasets: cached or not, rows, features, task, classes. Reads no data file."""
    from leantune.datasets import default_cache_dir, list_datasets

    directory = cache_dir.expanduser() if cache_dir else default_cache_dir()
    infos = list_datasets(directory)
    if as_json:
        stdout.print_json(json.dumps([info.as_dict() for info in infos]))
        return
    header = ("name", "source", "cached", "rows", "features", "task", "classes", "")
    rows = [
        (
            info.name,
            info.source,
            ("built-in" if info.source == "sklearn" else "yes") if info.cached else "no",
            _count(info.rows),
            _count(info.features),
            info.task or "?",
            _count(info.classes) if info.task == "classification" else "-",
            info.note,
        )
        for info in infos
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    stdout.print(f"PMLB cache: {directory}", highlight=False, markup=False)
    for row in [header, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        stdout.print(line.rstrip(), highlight=False, markup=False)
    if any(not info.cached for info in infos):
        stdout.print(
            "Not cached: downloaded into the cache on first use when online. Offline, place "
            "<name>/<name>.tsv.gz in the cache, or, for a scale check on synthetic data, use "
            "dataset: {synthetic_like: NAME}.",
            highlight=False,
            markup=False,
        )


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


@app.command()
@user_errors
def ui(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.", min=1, max=65535)] = 5000,
) -> None:
    """Browse a run in the MLflow UI, on localhost."""
    from leantune.tracking import run_store_uri, serve_ui, ui_page

    uri = _run_tracking_uri(run_dir, run_store_uri)
    _check_port_free("127.0.0.1", port)
    page = f"http://127.0.0.1:{port}/{ui_page(uri, _study_run_id(run_dir))}"
    stderr.print(
        f"Starting the MLflow UI for {escape(redact(uri))} on http://127.0.0.1:{port}; this can "
        "take ~10 s (Ctrl-C to stop)",
        highlight=False,
    )
    # The study's run, in the model-training view (a running study's too).
    stderr.print(f"Open: {page}", highlight=False, markup=False)
    # SIGTERM stops the server as Ctrl-C does, so its whole process group is ended.
    stop_on_sigterm()
    raise typer.Exit(serve_ui(uri, port=port))


@app.command()
@user_errors
def register(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    name: Annotated[str, typer.Argument(help="The registered model's name.", show_default=False)],
) -> None:
    """Register the study's chosen model by name in its MLflow store's model registry."""
    from leantune.results import RunDir
    from leantune.tracking import register_model, run_store_uri

    uri = _run_tracking_uri(run_dir, run_store_uri)
    run_id = _study_run_id(run_dir)
    if not run_id or not RunDir(run_dir).model_dir.is_dir():
        raise LeantuneError(
            f"RUN_DIR: {str(run_dir)!r} holds no chosen model to register (a study that "
            "completed with a feasible config has model/)"
        )
    try:
        version = register_model(uri, run_id, name)
    except Exception as error:  # the store's own refusal (a bad name), in one line
        raise LeantuneError(f"NAME: MLflow did not register {name!r}: {error}") from None
    stdout.print(
        f"registered {name} version {version}: models:/{name}/{version} ({uri})",
        highlight=False,
        markup=False,
    )


def _study_run_id(run_dir: Path) -> str | None:
    """The study's MLflow run: in its summary once it ended, in its state while it runs."""
    from leantune.results import RunDir

    files = RunDir(run_dir)
    for path, key in (
        (files.summary_file, "mlflow_parent_run_id"),
        (files.study_state_file, "parent_run_id"),  # study/_state.py's file
    ):
        try:
            run_id = json.loads(path.read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if run_id:
            return str(run_id)
    return None


def _check_port_free(host: str, port: int) -> None:
    """Refuse a busy port before the server starts, rather than among its log lines."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            other = port + 1 if port < 65535 else 5001
            raise LeantuneError(
                f"--port: must be a free port on {host}; got {port}, which is taken "
                f"({error.strerror or error}). Choose another, e.g. --port {other}"
            ) from None


def _run_tracking_uri(run_dir: Path, store_uri: Callable[[Path, str | None], str | None]) -> str:
    if not run_dir.is_dir():
        raise LeantuneError(f"RUN_DIR: {str(run_dir)!r} is not a directory")
    from leantune.results import RunDir

    files = RunDir(run_dir)
    recorded = files.read_summary().tracking_uri if files.is_run else None
    uri = store_uri(run_dir, recorded)
    if uri:
        return uri
    raise LeantuneError(
        f"RUN_DIR: {str(run_dir)!r} holds no MLflow store (mlflow.db) or summary.json; "
        "is it a leantune run directory?"
    )


def main() -> None:
    import gc

    # A study imports Ray, MLflow, scikit-learn and pandas: ~440,000 objects, which each full
    # collection walks (0.1-0.2 s of CPU; three in a study's start-up, seven in the quickstart,
    # freeing next to nothing). Full collections come ten times rarer; young ones as before.
    gc.set_threshold(*gc.get_threshold()[:2], 100)
    try:
        app()
    except SystemExit as done:
        _leave(done.code)
    _leave(0)


def _leave(code: int | str | None) -> None:
    """Exit without tearing the interpreter down, once the command is done.

    Unloading what a study imported (Ray, MLflow, scikit-learn, pandas) takes ~1 s of the
    user's wait after the last line is printed, and `validate` a third of a second; nothing
    in it is ours to keep. Exit handlers still run (logging, coverage) and the streams are
    flushed, so what a user sees and what was written are the same as a normal exit.
    """
    import atexit
    import contextlib
    import logging

    if isinstance(code, str):
        sys.stderr.write(f"{code}\n")
        code = 1
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`leantune ... | head`) or stream has nothing left to flush.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code or 0)
