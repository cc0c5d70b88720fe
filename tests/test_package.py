"""Importing leantune changes nothing in the process; a study gives back what it borrowed."""

import json
import subprocess
import sys
import textwrap

import pytest

IMPORTS = textwrap.dedent(
    """
    import json, logging, os, signal, sys
    # Third parties first: what their imports do is theirs (scikit-learn sets KMP_* variables).
    import matplotlib, mlflow, optuna, pandas, psutil, pydantic, ray, ray.tune, sklearn, typer
    env, levels = dict(os.environ), {}
    def logger_levels():
        names = list(logging.root.manager.loggerDict)
        return {n: logging.getLogger(n).level for n in names}
    levels = logger_levels()
    import leantune, leantune.study, leantune.engine, leantune.tracking, leantune.report
    import leantune.cli, leantune.tracking._mlflow
    changed_env = sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k))
    now = logger_levels()
    changed = sorted(n for n in levels if now[n] != levels[n])
    print(json.dumps({"env": changed_env, "levels": changed}))
    """
)


def test_importing_leantune_sets_no_environment_variable_and_no_logger_level():
    out = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, timeout=240, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"env": [], "levels": []}


STARTS_RAY = textwrap.dedent(
    """
    import signal
    from leantune.engine import start_ray, stop_ray
    def mine(*_):
        pass
    signal.signal(signal.SIGTERM, mine)
    assert start_ray(None)
    assert signal.getsignal(signal.SIGTERM) is not mine
    stop_ray()
    print("restored" if signal.getsignal(signal.SIGTERM) is mine else "not restored")
    """
)


@pytest.mark.slow
def test_stopping_ray_puts_back_the_sigterm_handler_that_was_there():
    out = subprocess.run(
        [sys.executable, "-c", STARTS_RAY], capture_output=True, text=True, timeout=240, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "restored"


def test_version_has_one_source():
    from importlib.metadata import version

    import leantune

    assert leantune.__version__ == version("leantune")


def test_importing_leantune_loads_no_spec_yet_its_subpackages_are_reachable():
    # Worker processes import leantune: the spec's models load only when first used, and a
    # subpackage reached as an attribute (as before, when the package imported them) loads then.
    code = textwrap.dedent(
        """
        import sys, leantune
        loaded = "leantune.spec" in sys.modules
        print(loaded, leantune.spec.StudySpec is leantune.StudySpec,
              callable(leantune.metrics.final_value), hasattr(leantune, "no_such_part"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=True
    ).stdout
    assert out.split() == ["False", "True", "True", "False"]
