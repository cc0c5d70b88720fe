"""`leantune study thesis`: the original study's setup as a preset, and its results chapter."""

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from leantune import LeantuneError, load_spec
from leantune.cli import app
from leantune.study._thesis import (
    GRID,
    OVERHEAD_STEPS,
    ThesisOptions,
    backends_from_text,
    derive_levels,
    run_thesis,
    thesis_spec,
)

TINY_GRID = {"batch_size": [2, 32], "learning_rate": [0.01], "alpha": [0.0001]}


def test_each_set_gets_the_models_of_its_task_the_thesis_grid_and_protocol(tmp_path):
    options = ThesisOptions(subsample=500, folds=3, max_train_seconds=7)
    regression = load_spec(
        thesis_spec("529_pollen", "regression", options, tmp_path, synthetic=False)
    )
    classification = load_spec(
        thesis_spec("kddcup", "classification", options, tmp_path, synthetic=False)
    )
    assert regression.model == ["linear"]
    assert classification.model == ["logistic", "svm"]
    space = classification.search.space
    assert space.batch_size.model_dump() == {"pow2": [1, "max"]}
    assert space.learning_rate.model_dump() == {"pow10": [-4, -1]}
    assert space.alpha.model_dump() == GRID["alpha"]
    assert classification.validation.test_size == 0.3
    assert classification.validation.cv_folds == 3
    assert classification.training.report_every == 100
    assert classification.resources.cpus_per_trial == 1
    assert classification.constraints.train_time_s == 7
    assert classification.dataset.subsample.rows == 500
    synthetic = load_spec(thesis_spec("mnist", "classification", options, tmp_path, synthetic=True))
    assert synthetic.dataset.source == "synthetic" and synthetic.name == "thesis-mnist-synthetic"


def test_the_command_reruns_exactly_what_was_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("LEANTUNE_PMLB_CACHE", raising=False)
    options = ThesisOptions(datasets=("diabetes", "kddcup"), subsample=0, compare_stopping=True)
    assert options.command(tmp_path / "out") == (
        "leantune study thesis --datasets diabetes,kddcup --subsample 0 --cv-folds 5 --seed 0 "
        f"--repeats 3 --output-dir {tmp_path / 'out'}"
    )
    assert options.rows is None and options.relative
    absolute = ThesisOptions(max_train_seconds=2, repeats=1, compare_stopping=False)
    assert "--train-time-s 2 " in absolute.command(tmp_path)
    assert "--repeats 1 --no-compare-stopping --output-dir" in absolute.command(tmp_path)
    tiny = ThesisOptions(grid=TINY_GRID, measured_quantiles=(0.5,))
    assert tiny.command(tmp_path).endswith(
        f'# with {{"grid": {json.dumps(TINY_GRID)}, "measured_quantiles": [0.5]}} (set from Python)'
    )


def test_the_backend_reaches_every_sets_training_and_the_command(tmp_path, monkeypatch):
    monkeypatch.delenv("LEANTUNE_PMLB_CACHE", raising=False)
    options = ThesisOptions(datasets=("kddcup",), subsample=0, backends=("minibatch",))
    spec = load_spec(thesis_spec("kddcup", "classification", options, tmp_path, synthetic=False))
    assert spec.training.backend == "minibatch"
    assert spec.training.epochs == 1 and spec.training.max_steps is None
    assert "--seed 0 --repeats 3 --backend minibatch --output-dir" in options.command(tmp_path)
    assert options.set_dir("kddcup", "minibatch") == "kddcup"
    default = thesis_spec("kddcup", "classification", ThesisOptions(), tmp_path, synthetic=False)
    assert load_spec(default).training.backend == "sklearn"
    assert load_spec(default).search.space.learning_rate.model_dump() == {"pow10": [-4, -1]}
    assert "--backend" not in ThesisOptions().command(tmp_path)
    assert backends_from_text("both") == ("sklearn", "minibatch")
    assert backends_from_text("minibatch, sklearn") == ("minibatch", "sklearn")


def test_beside_minibatch_sklearn_runs_the_overhead_arm_labelled_in_its_own_folder(tmp_path):
    both = ThesisOptions(datasets=("kddcup",), subsample=0, backends=("sklearn", "minibatch"))
    sklearn = load_spec(
        thesis_spec("kddcup", "classification", both, tmp_path, synthetic=False, backend="sklearn")
    )
    minibatch = load_spec(
        thesis_spec(
            "kddcup", "classification", both, tmp_path, synthetic=False, backend="minibatch"
        )
    )
    # The overhead arm: a fixed number of steps a fold, every batch size and model, one
    # learning rate and one alpha (partial_fit's call costs the same at any of them).
    assert sklearn.training.backend == "sklearn" and sklearn.training.max_steps == OVERHEAD_STEPS
    assert sklearn.model == ["logistic", "svm"]
    assert sklearn.search.space.batch_size.model_dump() == {"pow2": [1, "max"]}
    assert sklearn.search.space.learning_rate.model_dump() == [0.01]
    assert sklearn.search.space.alpha.model_dump() == [0.0001]
    assert sklearn.name == "thesis-kddcup-sklearn"
    # The learning arm keeps the whole grid at one epoch a fold.
    assert minibatch.training.max_steps is None and minibatch.training.epochs == 1
    assert minibatch.search.space.learning_rate.model_dump() == {"pow10": [-4, -1]}
    assert both.set_dir("kddcup", "sklearn") == "kddcup/sklearn"
    arm = both.arm("sklearn")
    assert arm["kind"] == "overhead" and "33 million partial_fit calls" in arm["why"]
    assert set(arm["reduced"]) == {"steps", "grid"}
    assert both.arm("minibatch")["kind"] == "full"
    assert "--backend sklearn,minibatch --output-dir" in both.command(tmp_path)
    # Asked for explicitly: 0 keeps the full sklearn grid beside minibatch; N runs the
    # overhead arm alone.
    full = ThesisOptions(backends=("sklearn", "minibatch"), overhead_steps=0)
    assert full.max_steps("sklearn") is None and "--overhead-steps 0" in full.command(tmp_path)
    alone = ThesisOptions(overhead_steps=25)
    assert alone.max_steps("sklearn") == 25 and alone.set_dir("diabetes", "sklearn") == "diabetes"


def test_limits_sit_at_quantiles_of_the_unstopped_cpu_cost_and_an_absolute_one_beside_them():
    trials = pd.DataFrame(
        {
            "status": ["feasible"] * 4 + ["infeasible", "failed"],
            "train_time_cpu_s": [1.0, 2.0, 3.0, 4.0, 5.0, 99.0],
            "step_time_cpu_ms": [5.0, 4.0, 3.0, 2.0, 1.0, 99.0],
        }
    )
    levels = derive_levels(trials, (0.25, 0.5, 0.75), absolute_train_time_s=2.5)
    assert [level["name"] for level in levels] == ["q25", "q50", "q75", "fixed"]
    # A failed trial's cost is not a cost of its config: 1..5, not 99.
    assert [level["train_time_s"] for level in levels[:3]] == [2.0, 3.0, 4.0]
    assert [level["step_time_ms"] for level in levels[:3]] == [2.0, 3.0, 4.0]
    assert levels[1]["share_meeting_train_time_s"] == 0.6
    assert levels[3] == {
        "name": "fixed",
        "quantile": 0.4,
        "train_time_s": 2.5,
        "share_meeting_train_time_s": 0.4,
        "step_time_ms": None,
    }


def test_the_unstopped_arm_has_no_time_limit_and_a_stopped_arm_its_levels(tmp_path):
    options = ThesisOptions(subsample=500)
    unstopped = load_spec(
        thesis_spec(
            "diabetes",
            "classification",
            options,
            tmp_path,
            synthetic=False,
            seed=2,
            stopping=False,
            run_dir=tmp_path / "u",
            report=False,
        )
    )
    assert unstopped.constraints.active() == {"memory_mb": 1024.0}
    assert unstopped.constraints.clock == "cpu" and not unstopped.stopping.enabled
    assert unstopped.training.seed == 2 and unstopped.dataset.subsample.seed == 2
    assert not unstopped.output.report and unstopped.output.dir == tmp_path / "u"
    stopped = load_spec(
        thesis_spec(
            "diabetes", "classification", options, tmp_path, synthetic=False, train_time_s=0.7
        )
    )
    assert stopped.constraints.train_time_s == 0.7 and stopped.stopping.predictive.margin == 0.1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"datasets": ("mnist", "iris")}, "--datasets: must be a comma-separated list of mnist"),
        ({"datasets": ("mnist", "mnist")}, "--datasets: names a set twice"),
        ({"max_train_seconds": 0}, "--train-time-s: must be a number > 0; got 0"),
        ({"subsample": -1}, "--subsample: must be a row count >= 0"),
        ({"folds": 0}, "--cv-folds: must be an integer >= 1; got 0"),
        ({"backends": ("torch",)}, "--backend: must be one of sklearn, minibatch, a comma"),
        ({"backends": ("sklearn", "sklearn")}, "without repeats, or both; got sklearn,sklearn"),
        ({"overhead_steps": -1}, "--overhead-steps: must be a step count >= 0"),
        ({"repeats": 0}, "--repeats: must be an integer >= 1; got 0"),
        ({"measured_quantiles": (0.5, 1.0)}, r"measured_quantiles: must be shares in \(0, 1\)"),
    ],
)
def test_bad_budgets_name_the_option_and_what_was_given(options, message):
    with pytest.raises(LeantuneError, match=message):
        ThesisOptions(**options)


def test_the_cli_turns_a_bad_option_into_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(
        app, ["study", "thesis", "--datasets", "mnist,irsi", "--output-dir", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert "--datasets: must be a comma-separated list" in result.output
    assert "Traceback" not in result.output


def test_the_cli_names_a_bad_backend_and_a_bad_overhead_arm_on_one_line_each(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "study",
            "thesis",
            "--backend",
            "sklearn,torch",
            "--overhead-steps",
            "-1",
            "--output-dir",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--backend: must be one of sklearn, minibatch" in result.output
    assert "got sklearn,torch" in result.output
    assert "--overhead-steps: must be a step count >= 0" in result.output
    assert not (tmp_path / "x").exists()


@pytest.fixture
def offline_cache(tmp_path, shared_pmlb, monkeypatch):
    """A cache with real diabetes, and only the summary of mnist (no data file), offline."""
    cache = tmp_path / "cache"
    shutil.copytree(shared_pmlb / "diabetes", cache / "diabetes")
    (cache / "mnist").mkdir(parents=True)
    # mnist's own summary, shrunk: the stand-in is generated at the size it says.
    summary = (shared_pmlb / "mnist" / "summary_stats.tsv").read_text()
    (cache / "mnist" / "summary_stats.tsv").write_text(summary.replace("\t70000\t", "\t400\t"))
    monkeypatch.setenv("LEANTUNE_PMLB_URL", "http://127.0.0.1:9")  # refuses at once
    return cache


def _tiny_thesis(out, cache, *, compare_stopping):
    return run_thesis(
        ThesisOptions(
            datasets=("mnist", "diabetes"),
            subsample=150,
            folds=2,
            repeats=2,
            compare_stopping=compare_stopping,
            measured_quantiles=(0.5,),
            cache_dir=cache,
            output_dir=out,
            grid=TINY_GRID,
        ),
        show_progress=False,
    )


@pytest.mark.slow
def test_a_tiny_thesis_runs_real_sets_skips_missing_ones_and_writes_the_chapter(
    ray_session, offline_cache, tmp_path, parsed
):
    # Replay only (no stopped arms): two studies; the system test below adds the stopped arms.
    out = tmp_path / "thesis"
    result = _tiny_thesis(out, offline_cache, compare_stopping=False)
    mnist, diabetes = result.outcomes
    assert (mnist.status, diabetes.status, diabetes.data) == ("skipped", "ran", "real")
    assert "mnist: not available offline" in mnist.reason
    assert not (out / "mnist").exists()
    thesis = json.loads((out / "thesis.json").read_text())
    assert thesis["command"] == result.command and "--repeats 2" in result.command
    entry = thesis["datasets"][1]
    # The levels (here the first repeat's) come from the unstopped arm, on the CPU clock.
    limits = entry["limits"]
    assert limits["mode"] == "relative" and limits["clock"] == "cpu"
    assert [level["name"] for level in limits["levels"]] == [
        "q10",
        "q25",
        "q40",
        "q50",
        "q60",
        "q75",
        "q90",
    ]
    assert limits["measured"] == ["q50"]
    first = pd.read_csv(out / "diabetes" / "repeat-0" / "unstopped" / "trials.csv")
    q50 = limits["levels"][3]
    assert q50["train_time_s"] == pytest.approx(first["train_time_cpu_s"].quantile(0.5))
    # Each repeat: its own seed, an unstopped arm and a stopped arm at the measured level; the
    # second runs its trials in a shuffled order.
    assert [(r["seed"], r["order"]) for r in entry["repeats"]] == [
        (0, "grid"),
        (1, "shuffled (seed 1)"),
    ]
    for repeat in entry["repeats"]:
        unstopped = json.loads((out / repeat["unstopped"] / "summary.json").read_text())
        # Each repeat's levels come from its own unstopped arm.
        own = pd.read_csv(out / repeat["unstopped"] / "trials.csv")["train_time_cpu_s"]
        assert repeat["levels"][3]["train_time_s"] == pytest.approx(own.quantile(0.5))
        assert unstopped["trial_order"] == repeat["order"]
        assert unstopped["search"]["stopping_enabled"] is False
        assert unstopped["dataset"]["subsample"]["seed"] == repeat["seed"]
        assert repeat["stopped"] == {}
    assert (out / "diabetes" / "repeat-0" / "unstopped" / "report.html").is_file()

    chapter = parsed(out / "results.html")
    assert {"data", "limits", "rq1_order_control", "rq2_curve"} <= set(chapter.tables)
    assert {"rq2_curve_all", "diabetes-rq2_curve", "diabetes-rq1_effect_batch_size"} <= set(
        chapter.figures
    )
    text = (out / "results.md").read_text()
    assert result.command in text
    assert (
        text.index("# Results") < text.index("Discussion: what holds") < text.index("Limitations")
    )
    assert "mnist: not available offline" in text
    curve = pd.read_csv(out / "results" / "rq2_curve.csv")
    assert set(curve["repeat"]) == {0, 1} and set(curve["metric"]) == {
        "train_time_s",
        "step_time_ms",
    }
    # A reactive rule on a total is replayed exactly: it never stops a config that met it.
    assert curve.loc[curve["metric"] == "train_time_s", "false_stops"].sum() == 0
    data = pd.read_csv(out / "results" / "data.csv")
    assert list(data["dataset"]) == ["mnist", "diabetes"]
    assert "No stopped arm ran (--no-compare-stopping)" in text


@pytest.mark.system
def test_a_tiny_thesis_runs_a_stopped_arm_per_measured_level_and_repeat(
    ray_session, offline_cache, tmp_path, parsed
):
    out = tmp_path / "thesis"
    _tiny_thesis(out, offline_cache, compare_stopping=True)
    entry = json.loads((out / "thesis.json").read_text())["datasets"][1]
    for repeat in entry["repeats"]:
        q50 = repeat["levels"][3]
        stopped = json.loads((out / repeat["stopped"]["q50"] / "summary.json").read_text())
        assert stopped["constraints"]["train_time_s"] == pytest.approx(q50["train_time_s"])
        assert stopped["search"]["stopping_enabled"] is True
        assert stopped["trial_order"] == repeat["order"]
        assert stopped["dataset"]["subsample"]["seed"] == repeat["seed"]
    assert "rq2_measured" in parsed(out / "results.html").tables
    measured = pd.read_csv(out / "results" / "rq2_measured.csv")
    assert list(measured["repeat"]) == [0, 1] and set(measured["level"]) == {"q50"}


@pytest.mark.slow
def test_synthetic_missing_runs_the_labelled_stand_in(
    ray_session, offline_cache, tmp_path, monkeypatch
):
    import leantune.study._thesis as thesis

    monkeypatch.setattr(thesis, "GRID", TINY_GRID)  # the CLI has no grid option
    out = tmp_path / "thesis"
    result = CliRunner().invoke(
        app,
        [
            "study",
            "thesis",
            "--datasets",
            "mnist",
            "--synthetic-missing",
            "--subsample",
            "100",
            "--folds",
            "2",
            "--max-train-seconds",
            "30",
            "--repeats",
            "1",
            "--no-compare-stopping",
            "--cache-dir",
            str(offline_cache),
            "--output-dir",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mnist: ran: synthetic data" in result.output
    assert "SYNTHETIC stand-in" in result.output
    summary = json.loads((out / "mnist" / "repeat-0" / "unstopped" / "summary.json").read_text())
    assert summary["dataset"]["synthetic"] is True
    text = (out / "results.html").read_text()
    assert "SYNTHETIC DATA: mnist ran on seeded synthetic stand-ins" in text


# Two arms of real pmlb data, each a whole study, then the chapter (~33 s): a whole-system
# scenario, in `make test-system`, which keeps `make test` under its 10 minutes.
@pytest.mark.system
def test_both_backends_run_side_by_side_and_the_chapter_says_which_axis_is_which(
    ray_session, offline_cache, tmp_path, parsed
):
    out = tmp_path / "thesis"
    result = run_thesis(
        ThesisOptions(
            datasets=("diabetes",),
            subsample=150,
            folds=2,
            repeats=1,
            compare_stopping=False,
            backends=("sklearn", "minibatch"),
            overhead_steps=3,
            cache_dir=offline_cache,
            output_dir=out,
            grid={"batch_size": [2, 32], "learning_rate": [0.001, 0.1], "alpha": [0.0001]},
        ),
        show_progress=False,
    )
    assert [(o.name, o.backend, o.status, o.dir) for o in result.outcomes] == [
        ("diabetes", "sklearn", "ran", "diabetes/sklearn"),
        ("diabetes", "minibatch", "ran", "diabetes/minibatch"),
    ]
    thesis = json.loads((out / "thesis.json").read_text())
    assert thesis["backends"] == ["sklearn", "minibatch"]
    overhead, learning = thesis["arms"]["sklearn"], thesis["arms"]["minibatch"]
    assert overhead["kind"] == "overhead" and overhead["max_steps"] == 3
    assert overhead["grid"]["learning_rate"] == [0.1] and "why" in overhead
    assert learning["kind"] == "full" and learning["grid"]["learning_rate"] == [0.001, 0.1]
    assert thesis["datasets"][0]["arm"] == overhead
    for backend, configs in (("sklearn", 4), ("minibatch", 8)):
        run = out / "diabetes" / backend / "repeat-0" / "unstopped"
        summary = json.loads((run / "summary.json").read_text())
        trials = pd.read_csv(run / "trials.csv")
        assert len(trials) == configs and summary["search"]["stopping_enabled"] is False
    # The overhead arm trains its fixed steps a fold; the learning arm one epoch a fold.
    sklearn = pd.read_csv(out / "diabetes/sklearn/repeat-0/unstopped/trials.csv")
    assert set(sklearn["steps_planned"]) == {3 * 2}

    chapter = parsed(out / "results.html")
    assert "rq1_batch_by_backend" in chapter.tables
    assert "diabetes-rq1_batch_by_backend" in chapter.figures
    assert {"diabetes-sklearn-rq2_curve", "diabetes-minibatch-rq2_curve"} <= set(chapter.figures)
    text = (out / "results.md").read_text()
    assert "## RQ1: batch size under each backend" in text
    assert "**diabetes, sklearn (overhead axis)**" in text
    assert "**diabetes, minibatch (learning axis)**" in text
    assert "The sklearn overhead arm" in text and "sklearn ran as the overhead arm" in text
    assert "so a larger batch read more rows: under sklearn that, not the batch" in text
    batch = pd.read_csv(out / "results" / "rq1_batch_by_backend.csv")
    assert set(zip(batch["backend"], batch["batch_size"], strict=True)) == {
        ("sklearn", 2),
        ("sklearn", 32),
        ("minibatch", 2),
        ("minibatch", 32),
    }
    # Rows read a fold: 3 steps × the batch under the overhead arm (less where a fold's last
    # batch is partial: ~52 rows a fold here); the fold once otherwise.
    rows = batch.set_index(["backend", "batch_size"])["rows_per_fold"]
    assert rows["sklearn", 2] == pytest.approx(6, rel=0.05)
    assert 52 < rows["sklearn", 32] <= 96
    assert rows["minibatch", 2] == pytest.approx(rows["minibatch", 32], rel=0.05)
    data = pd.read_csv(out / "results" / "data.csv")
    assert list(data["dataset"]) == ["diabetes (sklearn)", "diabetes (minibatch)"]


def test_the_plan_counts_each_arms_configs_and_steps_before_anything_starts():
    from leantune.datasets._catalog import DatasetShape
    from leantune.study._thesis_plan import arms_a_repeat, plan_arm

    kddcup = DatasetShape("kddcup", 494_020, 41, "classification", 23, "test")
    both = ThesisOptions(subsample=0, backends=("sklearn", "minibatch"))
    overhead, learning = plan_arm(both, kddcup, "sklearn"), plan_arm(both, kddcup, "minibatch")
    # Batch 2^1..2^18 (a fold holds 276,651 rows); 2 models; the overhead arm one learning
    # rate and one alpha at 10 steps a fold, the learning arm 4 × 3 at one epoch a fold.
    assert (overhead.configs, overhead.steps) == (36, 36 * 5 * OVERHEAD_STEPS)
    assert learning.configs == 18 * 4 * 3 * 2 and learning.arm == "full grid"
    full = plan_arm(ThesisOptions(subsample=0), kddcup, "sklearn")
    assert full.steps == learning.steps and full.cpu_s > 100 * overhead.cpu_s
    assert arms_a_repeat(both) == 4
    assert arms_a_repeat(ThesisOptions(compare_stopping=False)) == 1
