"""P3 and P6 under load: the share of avoidable cost a study avoids, and how often its stops and
skips are wrong, on kddcup-5k (train_time_s ≤ 3 s), quiet, beside a spinning core and beside
two other leantune studies.

Every arm runs its trials in process (no Ray: only stopping differs between arms, and a
stop takes effect at the report that decides it). The ground truth is one run with stopping
off: a config is truly feasible when it ran every step within the limit there, and the
avoidable cost is what the truly infeasible configs cost in it (trial CPU-s). An arm avoided
1 − (its CPU-s on truly infeasible configs) / avoidable. A false stop is a truly feasible
config stopped or skipped for a limit; a false infeasible, one that ran to its end and was
judged infeasible. Regret is against the truth's best feasible score.

    .venv/bin/python benchmarks/cheap_stops.py --repeats 3
    .venv/bin/python benchmarks/cheap_stops.py --smoke
"""

from __future__ import annotations

import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from leantune.metrics import NEAR_LIMIT_SHARE

from _harness import finish, markdown_table, parser, pmlb_cache
from _harness import spread as harness_spread

LIMIT_S = 3.0
# Configs the truth measured under this share of the limit are clear of it: loads here moved a
# config's CPU time by up to ~35 %, so those above it are borderline.
CLEAR = 0.75
LOADS = ("quiet", "spinning core", "two studies")
# Also: "memory stream" (--loads), a job copying 256 MiB over and over beside the study.
ARMS = {
    "leantune": {"predictive": {"margin": 0.1}, "skip_predicted": False},
    "leantune + skip": {"predictive": {"margin": 0.1}, "skip_predicted": True},
}


def _spec(
    name: str, rows: int, smoke: bool, stopping: dict[str, Any], run_dir: Path, clock: str = "cpu"
) -> dict:
    space: dict[str, Any] = {
        "batch_size": {"pow2": [1, "max"]},
        "learning_rate": {"pow10": [-4, -1]},
        "alpha": [1e-4],
    }
    if smoke:
        space = {"batch_size": [2, 256], "learning_rate": [0.01, 0.1], "alpha": [1e-4]}
    return {
        "name": name,
        "dataset": {
            "source": "pmlb",
            "name": "kddcup",
            "cache_dir": str(pmlb_cache()),
            "subsample": {"rows": rows, "seed": 0},
        },
        "model": ["logistic"] if smoke else ["logistic", "svm"],
        "search": {"space": space},
        "training": {"epochs": 1, "report_every": 100, "seed": 0},
        "validation": {"test_size": 0.3, "cv_folds": 2 if smoke else 5},
        "constraints": {"train_time_s": LIMIT_S, "clock": clock},
        "stopping": stopping,
        "resources": {"backend": "in-process"},
        "output": {"dir": str(run_dir), "report": False},
    }


def _run(spec: dict[str, Any]) -> None:
    import leantune
    from leantune.tracking import NullTracker

    leantune.run(spec, show_progress=False, tracker=NullTracker())


def _key(row: Any) -> tuple:
    return (row["model"], int(row["batch_size"]), float(row["learning_rate"]))


@contextmanager
def _load(kind: str, rows: int, root: Path) -> Iterator[None]:
    """The machine's other work while an arm runs."""
    from leantune.testing import cpu_hog, memory_hog

    if kind == "quiet":
        yield
        return
    if kind == "spinning core":
        with cpu_hog(seconds=3600):
            yield
        return
    if kind == "memory stream":  # competes for cache and memory bandwidth, not only a core
        with memory_hog(seconds=3600):
            yield
        return
    # Two other leantune studies, stopping off, each restarted as soon as it ends.
    code = (
        "import itertools, os, sys\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from cheap_stops import _spec, _run\n"
        "from pathlib import Path\n"
        "for n in itertools.count():\n"
        f"    _run(_spec('other', {rows}, False, {{'enabled': False}}, "
        "Path(sys.argv[1]) / f'{os.getpid()}-{n}'))\n"
    )
    others = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root / f"other-{i}")],
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        time.sleep(5)  # both past their imports, training
        # A load that died at its start (e.g. a run directory in use) is no load: say so.
        dead = [other.args[-1] for other in others if other.poll() is not None]
        if dead:
            raise RuntimeError(f"the other studies in {dead} ended at once: no load")
        yield
    finally:
        for other in others:
            other.kill()
            other.wait()


def _judge(run_dir: Path, truth: dict[tuple, dict[str, Any]]) -> dict[str, Any]:
    import pandas as pd

    trials = pd.read_csv(run_dir / "trials.csv")
    summary = json.loads((run_dir / "summary.json").read_text())
    avoidable = sum(t["cpu_s"] for t in truth.values() if not t["feasible"])
    spent_on_infeasible, stops, false_stops, false_infeasible, missed = 0.0, 0, 0, 0, 0
    false_clear = 0
    slowdowns = []
    for _, row in trials.iterrows():
        key = _key(row)
        cpu = float(row["cpu_time_s"]) if math.isfinite(row["cpu_time_s"]) else 0.0
        if not truth[key]["feasible"]:
            spent_on_infeasible += cpu
        limit_stop = row["status"] in ("stopped", "skipped") and row.get("stop_rule") in (
            "constraint",
            "predictive",
            "skip",
        )
        stops += limit_stop
        false_stops += limit_stop and truth[key]["feasible"]
        # A config the truth measured at under CLEAR × the limit: no load on this machine
        # should make it look over (the borderline ones above that, it can).
        false_clear += limit_stop and truth[key].get("train_time_s", 0.0) <= CLEAR * LIMIT_S
        false_infeasible += row["status"] == "infeasible" and truth[key]["feasible"]
        missed += row["status"] == "feasible" and not truth[key]["feasible"]
    # Each trial's last report: its slowdown, and for those that ran to the end their CPU
    # and normalised training time (how much of the load effect the probe removes).
    reports = pd.read_parquet(run_dir / "reports.parquet").groupby("trial_id").last()
    if "slowdown" in reports:
        slowdowns = [float(v) for v in reports.slowdown.dropna()]
    # The kernel's account of CPU sharing (metrics.CpuContention): of the time a trial wanted
    # a CPU, the share it waited for one.
    waiting = (
        [float(v) for v in reports.cpu_waiting_share.dropna()]
        if "cpu_waiting_share" in reports
        else []
    )
    finals = {}
    for trial_id, row in trials.set_index("trial_id").iterrows():
        last = reports.loc[trial_id] if trial_id in reports.index else None
        if row.status == "feasible" and last is not None and "train_time_norm_s" in last:
            finals[str(_key(row))] = (
                float(last.train_time_cpu_s),
                float(last.train_time_norm_s),
            )
    ledger = json.loads((run_dir / "ledger.json").read_text())
    truth_cpu = sum(t["cpu_s"] for t in truth.values())
    feasible_truth = [t["score"] for t in truth.values() if t["feasible"]]
    pick = (summary.get("best") or {}).get("config")
    pick_key = (
        (pick["model"], int(pick["batch_size"]), float(pick["learning_rate"])) if pick else None
    )
    picked = truth[pick_key] if pick_key else None
    return {
        "trials": len(trials),
        "avoided_pct": 100 * (1 - spent_on_infeasible / avoidable) if avoidable else math.nan,
        "spent_on_infeasible_s": spent_on_infeasible,
        "trial_cpu_s": float(trials.cpu_time_s.fillna(0).sum()),
        "stops": int(stops),
        "false_stops": int(false_stops),
        "false_stops_clear": int(false_clear),
        "false_infeasible": int(false_infeasible),
        "missed": int(missed),
        "pick_feasible": bool(picked and picked["feasible"]),
        "regret": (max(feasible_truth) - picked["score"]) if picked else math.nan,
        "feasible": sorted(str(_key(r)) for _, r in trials.iterrows() if r.status == "feasible"),
        # Judged on a complete record within NEAR_LIMIT_SHARE of the limit (summary.json's
        # near_limits, worked out here too for runs from before it was recorded).
        "near": sorted(
            str(_key(r))
            for _, r in trials.iterrows()
            if r.status in ("feasible", "infeasible")
            and abs(float(r.train_time_s) / LIMIT_S - 1) <= NEAR_LIMIT_SHARE
        ),
        "median_slowdown": statistics.median(slowdowns) if slowdowns else math.nan,
        "median_waiting_share": statistics.median(waiting) if waiting else math.nan,
        # the ledger's full-grid estimate against the full grid measured with stopping off
        "ledger_error_pct": 100 * (ledger["full_grid_cpu_s_estimate"] / truth_cpu - 1),
        # its estimate on CPUs of their own (each trial's cost over its contention factor)
        "ledger_uncontended_error_pct": 100
        * ((ledger.get("full_grid_cpu_s_uncontended_estimate") or math.nan) / truth_cpu - 1),
        "finals": finals,
        "coverage_untried": _share(summary, "untried"),
        "coverage_running": _share(summary, "running"),
    }


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _calibrated(got: dict[str, Any]) -> str:
    share = got.get("calibrated_coverage")
    return f"{share:.0%}" if share is not None else "-"


def _share(summary: dict[str, Any], kind: str) -> float:
    """The summary's held-out coverage of the train_time_s forecasts that stated a level (of
    every forecast, for a summary written before those were counted apart)."""
    got = (summary.get("forecasts") or {}).get(kind, {}).get("train_time_s") or {}
    for share in (got.get("calibrated_coverage"), got.get("coverage")):
        if share is not None:
            return share
    return math.nan


def coverage(run_dir: Path, level: float = 0.9) -> dict[str, Any]:
    """Held-out coverage of the cost model's intervals on a recorded run, as a study's summary
    states it (`leantune.stoppers.forecast_coverage`): its trials replayed in the order they
    started, each forecast from the trials before it, held against its final."""
    import pandas as pd

    from leantune.stoppers import forecast_coverage

    reports = pd.read_parquet(run_dir / "reports.parquet")
    trials = pd.read_csv(run_dir / "trials.csv").set_index("trial_id").sort_values("started_at")
    by_trial = dict(tuple(reports.groupby("trial_id", sort=False)))
    replayed = []
    for trial_id, row in trials.iterrows():
        config = row[["model", "batch_size", "learning_rate", "alpha"]].to_dict()
        group = by_trial.get(trial_id)
        rows = (
            []
            if group is None
            else [
                {k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
                for r in group.to_dict("records")
            ]
        )
        replayed.append((config, rows))
    return forecast_coverage(replayed, level)


def main() -> int:
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--rows", type=int, default=5000, help="kddcup subsample (5000)")
    options.add_argument("--root", type=Path, help="run directories; a truth there is reused")
    options.add_argument("--loads", default=",".join(LOADS), help="comma-separated")
    options.add_argument("--arms", default=",".join(ARMS), help="comma-separated")
    args = options.parse_args()
    import pandas as pd

    root = args.root or Path(tempfile.mkdtemp(prefix="p3-load-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"run directories: {root}", flush=True)
    truth_dir = root / "truth"
    if not (truth_dir / "trials.csv").exists():
        started = time.time()
        _run(_spec("truth", args.rows, args.smoke, {"enabled": False}, truth_dir))
        print(f"truth: {time.time() - started:.0f} s, load {os.getloadavg()}", flush=True)
    frame = pd.read_csv(truth_dir / "trials.csv")
    truth = {
        _key(r): {
            "feasible": r.status == "feasible",
            "score": float(r.cv_score_mean),
            "cpu_s": float(r.cpu_time_s),
            "train_time_s": float(r.train_time_s),
        }
        for _, r in frame.iterrows()
    }
    held_out = coverage(truth_dir)
    print(f"coverage: {held_out}", flush=True)
    rows: list[dict[str, Any]] = []
    repeats = 1 if args.smoke else args.repeats
    for repeat in range(repeats):
        for load in args.loads.split(","):
            for arm in args.arms.split(","):
                stopping = ARMS[arm]
                run_dir = root / f"{arm.replace(' ', '')}-{load.replace(' ', '')}-{repeat}"
                if (run_dir / "summary.json").exists():  # ran already: judged again only
                    before = after = math.nan
                else:
                    with _load(load, args.rows, root):
                        before = os.getloadavg()[0]
                        _run(_spec(f"p3-{repeat}", args.rows, args.smoke, stopping, run_dir))
                        after = os.getloadavg()[0]
                        (run_dir / "load.json").write_text(json.dumps([before, after]))
                if (run_dir / "load.json").exists():
                    before, after = json.loads((run_dir / "load.json").read_text())
                row = {"arm": arm, "load": load, "repeat": repeat, **_judge(run_dir, truth)}
                row["load_avg"] = f"{before:.1f}-{after:.1f}"
                rows.append(row)
                shown = {k: v for k, v in row.items() if k != "feasible"}
                print(shown, flush=True)
    section = _section(rows, truth, args.rows, held_out)
    data = {"rows": rows, "coverage": held_out, "truth": {str(k): v for k, v in truth.items()}}
    finish(args, section, data)
    return 0


def _section(rows: list[dict[str, Any]], truth: dict, n_rows: int, held_out: dict) -> str:
    import pandas as pd

    frame = pd.DataFrame(rows)
    out = []
    for (arm, load), group in frame.groupby(["arm", "load"], sort=False):

        def spread(column: str, digits: int = 1, group: Any = group) -> str:
            return harness_spread(list(group[column].astype(float)), digits)

        quiet = frame[(frame.arm == arm) & (frame.load == "quiet")]
        effect = {"cpu": [], "norm": []}
        for (_, a), (_, b) in zip(quiet.iterrows(), group.iterrows(), strict=False):
            for key in set(a.finals) & set(b.finals):
                for i, clock in enumerate(("cpu", "norm")):
                    effect[clock].append(b.finals[key][i] / a.finals[key][i] - 1)
        # Against the same repetition's quiet run; the quiet runs against each other (what a
        # rerun alone moves). "clear": configs neither run measured near the limit.
        if load == "quiet":
            pairs = list(itertools.combinations([row for _, row in quiet.iterrows()], 2))
        else:
            pairs = [
                (a, b) for (_, a), (_, b) in zip(quiet.iterrows(), group.iterrows(), strict=False)
            ]
        jaccards = [_jaccard(set(a.feasible), set(b.feasible)) for a, b in pairs]
        clear = [
            _jaccard(
                set(a.feasible) - set(a.near) - set(b.near),
                set(b.feasible) - set(a.near) - set(b.near),
            )
            for a, b in pairs
        ]
        near_counts = [len(near) for near in group.near]
        out.append(
            {
                "arm": arm,
                "load": load,
                "runs": len(group),
                "load avg": ", ".join(group.load_avg),
                "avoided %": spread("avoided_pct", 2),
                "CPU-s on infeasible": spread("spent_on_infeasible_s", 2),
                "stops": spread("stops", 0),
                "false stops": f"{int(group.false_stops.sum())} of {int(group.stops.sum())}",
                f"false stops under {CLEAR:g}× the limit": int(group.false_stops_clear.sum()),
                "false infeasible": int(group.false_infeasible.sum()),
                "missed violations": int(group.missed.sum()),
                "pick feasible": f"{int(group.pick_feasible.sum())} of {len(group)}",
                "regret": spread("regret", 4),
                "slowdown": spread("median_slowdown", 2),
                "ledger error %, raw / uncontended": (
                    f"{spread('ledger_error_pct', 1)} / {spread('ledger_uncontended_error_pct', 1)}"
                ),
                "load effect, CPU / normalised": " / ".join(
                    f"{100 * statistics.median(effect[c]):+.1f}%" if effect[c] else "-"
                    for c in ("cpu", "norm")
                ),
                "Jaccard vs quiet": f"{min(jaccards):.3f}" if jaccards else "-",
                f"near the limit (±{NEAR_LIMIT_SHARE:.0%})": harness_spread(near_counts, 0),
                "Jaccard vs quiet, clear of it": f"{min(clear):.3f}" if clear else "-",
                "coverage of stated 90 %, untried / running": (
                    f"{spread('coverage_untried', 2)} / {spread('coverage_running', 2)}"
                ),
            }
        )
    feasible = sum(t["feasible"] for t in truth.values())
    avoidable = sum(t["cpu_s"] for t in truth.values() if not t["feasible"])
    head = (
        "## P9: P3 and P6 under load: cheap stops, borderline configs, the load probe\n\n"
        f"kddcup, a seeded {n_rows:,}-row subsample, train_time_s ≤ {LIMIT_S} s (CPU clock), "
        f"{len(truth)} configs, {feasible} truly feasible; avoidable cost (trial CPU-s of the "
        f"truly infeasible configs, stopping off) {avoidable:.0f} CPU-s. Median (min–max) over "
        "the runs; trials in process."
    )
    level = held_out["level"]
    lines = [
        f"Held-out coverage of the cost model's stated {level:.0%} intervals on the stopping-off "
        "run (`forecast_coverage`, as summary.json states it: each trial forecast from the "
        "trials that started before it, held against its final; calibrated = forecasts made "
        "after 19 finals had measured the model's errors):"
    ]
    for metric, got in held_out["untried"].items():
        lines.append(
            f"- {metric}, untried: {got['coverage']:.0%} of {got['forecasts']} finals inside "
            f"({got['calibrated_forecasts']} calibrated, {_calibrated(got)} of them inside)"
        )
    got = held_out["running"]["train_time_s"]
    if got["forecasts"]:
        lines.append(
            f"- train_time_s, running (first report, half-way, three quarters): "
            f"{got['coverage']:.0%} of {got['forecasts']} inside "
            f"({got['calibrated_forecasts']} calibrated, {_calibrated(got)} of them inside)"
        )
    return "\n".join([head, "", *markdown_table(pd.DataFrame(out)), "", *lines])


if __name__ == "__main__":
    sys.exit(main())
