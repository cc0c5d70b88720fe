"""A grid's run order: the grid's own, or a seeded shuffle of it (RQ1's run-order control)."""

from leantune.datasets import load_sklearn, make_splits
from leantune.engine import TrainingPlan, TrialData
from leantune.search import SearchRequest, grid_configs
from leantune.trials import config_key

SPACE = {
    "model": ["logistic", "svm"],
    "batch_size": [2, 8, 32],
    "learning_rate": [0.1, 0.01],
    "alpha": [1e-4],
}


def _request(tmp_path, seed):
    data = load_sklearn("iris")
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    return SearchRequest(
        name="o",
        param_space=SPACE,
        data=TrialData(data.X, data.y, data.task, data.n_classes, splits.folds),
        plan=TrainingPlan(),
        storage_dir=tmp_path,
        trial_order_seed=seed,
    )


def _points(request):
    return [config_key(point) for point in request.grid_points()]


def test_a_trial_order_seed_runs_every_grid_config_once_in_a_seeded_shuffled_order(tmp_path):
    grid = [config_key(config) for config in grid_configs(SPACE)]
    first = _request(tmp_path, 3)
    assert sorted(_points(first)) == sorted(grid) and first.configs_to_run() == len(grid) == 12
    assert _points(first) == _points(_request(tmp_path, 3))
    assert _points(first) != grid and _points(first) != _points(_request(tmp_path, 4))


def test_without_a_seed_the_grid_runs_in_its_own_order(tmp_path):
    request = _request(tmp_path, None)
    assert request.grid_points() is None and request.configs_to_run() == 12
