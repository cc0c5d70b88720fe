"""The search core loads without Ray: its tests and the in-process backend never pay for it."""

import subprocess
import sys


def test_importing_the_search_core_loads_no_ray():
    code = (
        "import sys, leantune.search, leantune.search._in_process, leantune.search._replay; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_pool_worker_imports_no_spec_models():
    # Every worker process imports the pool's loop; the spec's pydantic models are ~0.3 s of
    # each worker's start that no trial uses.
    code = "import sys, leantune.search._processes; print('leantune.spec' in sys.modules)"
    assert _run(code) == "False"


def test_a_pool_worker_loads_its_trial_libraries_before_it_asks_for_a_config():
    # While it waits for its first config it loads what that config's trial would load
    # first (scikit-learn, the minibatch kernels), so the config trains as soon as it comes.
    code = (
        "import sys\n"
        "from leantune.engine._trial import TrainingPlan\n"
        "from leantune.search._processes import serve\n"
        "class Tasks:\n"
        "    def get(self):\n"
        "        print(all(m in sys.modules for m in "
        "('sklearn.linear_model', 'leantune.models._minibatch')))\n"
        "serve({'plan': TrainingPlan(backend='minibatch')}, None, Tasks(), None, None, None)\n"
    )
    assert _run(code) == "True"
