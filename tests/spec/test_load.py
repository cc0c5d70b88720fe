import textwrap

import pytest

from leantune import SpecError, load_spec
from leantune.spec import dump_spec
from leantune.testing import tiny_spec

ISSUE_EXAMPLE = textwrap.dedent(
    """
    name: quick
    dataset: {source: sklearn, name: breast_cancer}
    model: [logistic, svm]              # or a single name
    search:
      method: grid
      space:
        batch_size: {pow2: [1, max]}
        learning_rate: {pow10: [-4, -1]}
        alpha: [0.0001, 0.01]
    training: {epochs: 1, report_every: 100, seed: 0}
    validation: {test_size: 0.3, cv_folds: 5}
    constraints: {memory_mb: 200, step_time_ms: 5, train_time_s: 60}
    resources: {cpus_per_trial: 1}
    output: {dir: runs/quick}
    """
)


def _problems(source, overrides=()):
    with pytest.raises(SpecError) as error:
        load_spec(source, overrides)
    return error.value.problems


def test_the_documented_shape_loads(tmp_path):
    path = tmp_path / "quick.yaml"
    path.write_text(ISSUE_EXAMPLE)
    spec = load_spec(path)
    assert spec.model == ["logistic", "svm"]
    assert spec.constraints.active() == {"memory_mb": 200, "step_time_ms": 5, "train_time_s": 60}
    assert str(spec.output.dir) == "runs/quick"


def test_a_single_model_name_becomes_a_list():
    assert load_spec(tiny_spec(model="svm")).model == ["svm"]


def test_a_dumped_spec_loads_again_to_the_same_spec(tmp_path):
    spec = load_spec(tiny_spec(search={"space": {"batch_size": {"pow2": [1, "max"]}}}))
    path = tmp_path / "again.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec


def test_unknown_keys_are_named_with_a_suggestion_and_the_allowed_keys():
    (line,) = _problems(tiny_spec(trainig={"epochs": 2}))
    assert "trainig: unknown key (did you mean 'training'?)" in line
    assert "allowed keys here: name, dataset, model" in line


def test_nested_unknown_keys_list_the_section_keys():
    (line,) = _problems(tiny_spec(training={"epoch": 2}))
    assert "training.epoch: unknown key (did you mean 'epochs'?)" in line
    assert "report_every" in line


def test_every_problem_gets_its_own_line_naming_field_rule_and_value():
    problems = _problems(
        tiny_spec(
            model="lasso",
            training={"report_every": 0, "epochs": "two"},
            validation={"test_size": 1.5},
        )
    )
    text = "\n".join(problems)
    assert "model[0]: must be 'linear', 'logistic' or 'svm'; got 'lasso'" in text
    assert "training.report_every: must be greater than 0; got 0" in text
    assert "training.epochs: must be a valid integer; got 'two'" in text
    assert "validation.test_size: must be less than 1; got 1.5" in text
    assert len(problems) == 4


def test_booleans_are_not_numbers():
    (line,) = _problems(tiny_spec(training={"epochs": True}))
    assert "training.epochs" in line and "True" in line


def test_negative_budgets_are_rejected():
    (line,) = _problems(tiny_spec(constraints={"memory_mb": -5}))
    assert "constraints.memory_mb: must be greater than 0; got -5" in line


def test_epochs_and_max_steps_are_exclusive():
    (line,) = _problems(tiny_spec(training={"epochs": 2, "max_steps": 100}))
    assert "either training.epochs or training.max_steps" in line


def test_regression_and_classification_models_do_not_mix():
    (line,) = _problems(tiny_spec(model=["linear", "svm"]))
    assert "mixes regression" in line


def test_a_declared_task_must_fit_the_models():
    (line,) = _problems(tiny_spec(dataset={"name": "diabetes", "task": "regression"}))
    assert "needs a classification task" in line


def test_axis_errors_carry_the_field_path():
    (line,) = _problems(tiny_spec(search={"space": {"learning_rate": {"pow10": [-1, -4]}}}))
    assert line.startswith("spec: search.space.learning_rate: pow10 needs low <= high")


def test_overrides_keep_yaml_types_and_reach_nested_keys():
    spec = load_spec(
        tiny_spec(), ["training.epochs=3", "output.dir=runs/x", "search.space.alpha=[0, 0.1]"]
    )
    assert spec.training.epochs == 3
    assert str(spec.output.dir) == "runs/x"
    assert spec.search.space.alpha.resolve(10) == [0.0, 0.1]


def test_a_bad_override_says_how_to_write_one():
    (line,) = _problems(tiny_spec(), ["training.epochs"])
    assert "expected KEY=VALUE" in line


def test_an_override_is_validated_like_the_file():
    (line,) = _problems(tiny_spec(), ["training.report_every=0"])
    assert "training.report_every" in line


def test_yaml_syntax_errors_give_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmodel: [logistic\n")
    (line,) = _problems(path)
    assert "not valid YAML" in line and "line" in line


def test_a_missing_file_is_a_spec_error(tmp_path):
    (line,) = _problems(tmp_path / "nope.yaml")
    assert "study file not found" in line


def test_a_top_level_list_is_rejected(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    (line,) = _problems(path)
    assert "must be a mapping" in line


def test_required_sections_are_named_when_missing():
    problems = _problems({"name": "x"})
    assert any(p.endswith("dataset: is required but missing") for p in problems)
    assert any(p.endswith("model: is required but missing") for p in problems)


def test_random_and_tpe_need_a_sample_count_and_grid_refuses_one():
    (line,) = _problems(tiny_spec(search={"method": "tpe"}))
    assert "search.num_samples: method 'tpe' needs the number of configs" in line
    (line,) = _problems(tiny_spec(search={"method": "grid", "num_samples": 5}))
    assert "only random and tpe sample configs" in line
    spec = load_spec(tiny_spec(search={"method": "random", "num_samples": 5, "scheduler": "asha"}))
    assert spec.search.scheduler.name == "asha" and spec.search.scheduler.reduction_factor == 3


def test_stopping_policies_switch_on_and_off():
    spec = load_spec(
        tiny_spec(
            constraints={"train_time_s": 5}, stopping={"predictive": True, "divergence": False}
        )
    )
    assert spec.stopping.predictive.margin == 0.1
    assert spec.stopping.divergence is None
    assert load_spec(tiny_spec()).stopping.divergence.explode_factor == 1e3


def test_predictive_needs_a_limit_it_can_forecast():
    (line,) = _problems(tiny_spec(constraints={"cpu_percent": 50}, stopping={"predictive": {}}))
    assert "stopping.predictive: forecasts a limit on one of memory_mb" in line
    assert "['cpu_percent']" in line


def test_patience_metric_must_exist_for_the_task():
    (line,) = _problems(tiny_spec(stopping={"patience": {"metric": "val_rmse"}}))
    assert "stopping.patience.metric: 'val_rmse' is not reported" in line


def test_unknown_policy_names_are_rejected_with_the_known_ones():
    (line,) = _problems(tiny_spec(stopping={"prechlet": {}}))
    assert "stopping.prechlet: unknown key (did you mean 'prechelt'?)" in line
    assert "predictive" in line
