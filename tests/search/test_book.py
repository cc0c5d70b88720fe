"""The trial book's one status rule, on hand-made reports (no training, no Ray)."""

import math

from leantune.metrics import QualityBound
from leantune.search import TrialBook
from leantune.stoppers import (
    AnyOf,
    PatiencePolicy,
    QualityPolicy,
    StoppingPolicy,
    StopReason,
    TrialHistory,
    from_constraints,
)
from leantune.testing import NeverStop, RecordingObserver
from leantune.trials import FEASIBLE, INFEASIBLE, SKIPPED, STOPPED


class StopAt(StoppingPolicy):
    """Says stop (rule `rule`) from report `index` on."""

    def __init__(self, index: int, rule: str = "prechelt", metric: str = "val_loss"):
        self.index, self.rule, self.metric = index, rule, metric

    def decide(self, history: TrialHistory):
        from leantune.stoppers import Decision

        if len(history) > self.index:
            return Decision.stop_because(StopReason(self.rule, self.metric, 2.0, 1.0, 0))
        return Decision.carry_on()


def _reports(n=4, train_time=0.1, finished=True, score=0.8):
    out = [
        {
            "step": 100 * (i + 1),
            "fold": 0,
            "fold_step": 100 * (i + 1),
            "steps_planned": 100 * n,
            "train_time_s": train_time * (i + 1) / n,
            "val_accuracy": score,
            "objective": score,
            "progress_pct": 100.0 * (i + 1) / n,
        }
        for i in range(n)
    ]
    if finished:
        out[-1].update(
            trial_status="finished",
            cv_score_mean=score,
            cv_metric="val_accuracy",
            fold_finished=True,
        )
    return out


def _run(book, reports, key="t0", config=None, obey=False):
    """Feed `reports` as a backend would. obey=False: the trial finished before any stop
    reached it (a fast trial on Ray)."""
    book.started(key, config or {"model": "logistic", "batch_size": 8})
    for report in reports:
        if book.reported(key, dict(report)) and obey:
            break
    return book.ended(key)


def test_a_fast_trial_stopped_late_by_a_quality_rule_is_feasible_and_saved_nothing():
    book = TrialBook(StopAt(1, "prechelt"), RecordingObserver())
    record = _run(book, _reports())
    assert record.status == FEASIBLE
    assert record.stop_reason is None
    assert record.late_stop is not None and record.late_stop.rule == "prechelt"


def test_a_late_stop_on_a_measured_limit_leaves_the_complete_trial_infeasible():
    limit = from_constraints({"train_time_s": 0.05})
    book = TrialBook(limit, RecordingObserver(), limits=limit)
    record = _run(book, _reports(train_time=0.1))
    assert record.status == INFEASIBLE
    assert record.stop_reason.metric == "train_time_s"
    assert record.late_stop is not None


def test_a_late_forecast_is_replaced_by_what_the_complete_record_measured():
    limits = from_constraints({"train_time_s": 0.5})
    forecast = StopAt(1, "predictive", "train_time_s")
    book = TrialBook(forecast, RecordingObserver(), limits=limits)
    within = _run(book, _reports(train_time=0.3), key="within")
    assert within.status == FEASIBLE and within.late_stop.rule == "predictive"
    over = _run(book, _reports(train_time=0.9), key="over")
    assert over.status == INFEASIBLE and over.stop_reason.rule == "constraint"


def test_a_late_quality_stop_does_not_hide_a_limit_broken_after_it():
    # The quality stop came first; the limit broke at the last report, which no rule judged.
    limits = from_constraints({"train_time_s": 0.08})
    book = TrialBook(StopAt(0, "patience"), RecordingObserver(), limits=limits)
    record = _run(book, _reports(train_time=0.1))
    assert record.status == INFEASIBLE and record.stop_reason.metric == "train_time_s"


def test_a_floor_missed_at_the_end_is_infeasible_not_late():
    floor = QualityPolicy(QualityBound("val_accuracy", 0.9))
    book = TrialBook(AnyOf([floor]), RecordingObserver(), limits=floor)
    record = _run(book, _reports(score=0.8))
    assert record.status == INFEASIBLE and record.late_stop is None


def test_a_trial_cut_short_is_stopped_whatever_the_rule():
    book = TrialBook(StopAt(1, "patience"), RecordingObserver())
    record = _run(book, _reports(), obey=True)
    assert record.status == STOPPED and record.stop_reason.rule == "patience"
    assert record.late_stop is None


def test_observe_only_lets_a_trial_run_on_and_judges_it_whole():
    limit = from_constraints({"train_time_s": 0.05})
    book = TrialBook(limit, RecordingObserver(), enforce=False, limits=limit)
    record = _run(book, _reports(train_time=0.1), obey=True)
    assert len(record.reports) == 4
    assert record.status == INFEASIBLE and record.late_stop is None


def test_a_patience_stop_keeps_a_trial_a_candidate():
    from leantune.search import pick_best

    book = TrialBook(PatiencePolicy("val_loss", 1), RecordingObserver())
    record = _run(book, _reports(finished=False), obey=True)
    record.status, record.stop_reason = STOPPED, StopReason("patience", "val_loss", 1, 1, 200)
    pick = pick_best([record], "classification")
    assert pick is not None and pick.reached and math.isclose(pick.value, 0.8)


def test_the_skip_rule_judges_the_start_report_and_nothing_else():
    from leantune.stoppers import CostModel, SkipPredicted

    model = CostModel()
    skip = SkipPredicted(model, {"train_time_s": 0.05})
    book = TrialBook(NeverStop(), RecordingObserver(), skip=skip)
    config = {"model": "logistic", "batch_size": 8, "learning_rate": 0.1}
    for twin in ("a", "b"):  # two cost twins run in full, over the limit
        _run(book, _reports(train_time=0.4), key=twin, config={**config, "learning_rate": 0.5})
    book.started("c", config)
    start = {"step": 0, "trial_phase": "start", "steps_planned": 400}
    assert book.reported("c", start)
    assert book.ended("c").status == SKIPPED


def test_an_ended_trial_keeps_only_what_the_pick_and_the_tables_read():
    from leantune.metrics import Objective
    from leantune.search._book import DROPPED
    from leantune.study._results import trials_table

    def two_folds(stopped):
        reports = _reports(n=6)
        for i, report in enumerate(reports):
            report.update(
                fold=i // 3, memory_mb=10.0 + (9 if i == 1 else i), val_loss=1.0 / (i + 1)
            )
            report["train_loss_steps"] = [0.5] * 100
        reports[2].update(fold_finished=True)
        return reports[:4] if stopped else reports

    full, slim = (
        TrialBook(NeverStop(), RecordingObserver()),
        TrialBook(NeverStop(), RecordingObserver(), keep_reports=False),
    )
    for stopped in (False, True):
        kept = _run(full, two_folds(stopped), key=f"t{stopped}")
        dropped = _run(slim, two_folds(stopped), key=f"t{stopped}")
        assert len(dropped.reports) == len(kept.reports)  # the ledger counts them
        assert DROPPED in dropped.reports and dropped.last == kept.last
        assert "train_loss_steps" not in dropped.reports[0]
        objective = Objective("val_accuracy", "max")
        assert objective.value(dropped.reports) == objective.value(kept.reports) or stopped
        assert objective.reached(dropped.reports) == objective.reached(kept.reports)
    same = trials_table(slim.ended_records()).drop(columns=["started_at", "ended_at"])
    whole = trials_table(full.ended_records()).drop(columns=["started_at", "ended_at"])
    assert same.drop(columns="wall_time_s").equals(whole.drop(columns="wall_time_s"))
    assert same.peak_memory_mb.tolist() == [19.0, 19.0]


def test_a_packed_report_reads_as_the_report_it_packs():
    import copy
    import json
    import pickle

    from leantune.search._book import PackedReport

    report = {
        "step": 12,
        "val_accuracy": 0.9,
        "val_loss": float("nan"),
        "trial_status": "finished",
        "fold_finished": True,
        "memory_mb": 41.5,
        "train_loss_steps": [0.5, 0.25],
        "error": None,
    }
    packed = PackedReport(report)
    assert list(packed) == list(report) and len(packed) == len(report)
    assert packed["val_accuracy"] == 0.9 and packed.get("step") == 12
    assert packed.get("absent", "x") == "x" and "absent" not in packed
    assert packed["train_loss_steps"] == [0.5, 0.25] and packed["fold_finished"] is True
    assert str(packed["val_loss"]) == "nan"
    report["val_loss"] = 0.25  # NaN equals itself only by identity, in a dict too
    packed = PackedReport(report)
    assert packed == report and report == packed
    assert pickle.loads(pickle.dumps(packed)) == packed == copy.deepcopy(packed)
    assert json.loads(json.dumps(dict(packed)))["step"] == 12
    # Reports of the same names share one layout: the names are not kept once a trial.
    assert PackedReport({**report, "val_accuracy": 0.5})._layout is packed._layout
