"""One owner for each closed set: statuses and stop rules are spelled in leantune.trials only,
and the trial record needs nothing from the policies (no import circle)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "leantune"
# Words that mean a trial status and nothing else (a "stopped" arm or a "skipped" dataset of
# the thesis preset are other things, so those words are not searched for).
STATUS_ONLY = re.compile(r"[\"'](feasible|infeasible|diverged)[\"']")


def test_no_status_is_spelled_outside_its_owner():
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if path.name != "_status.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STATUS_ONLY.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, "use leantune.trials' statuses:\n" + "\n".join(found)


def test_the_trial_record_imports_no_policy():
    code = "import sys, leantune.trials; print('leantune.stoppers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_statuses_and_rules_equal_their_strings_on_disk():
    from leantune.trials import ENDED_STATUSES, FEASIBLE, StopRule, TrialStatus

    assert FEASIBLE == "feasible" and TrialStatus("stopped") is TrialStatus.STOPPED
    assert [str(s) for s in ENDED_STATUSES] == [
        "feasible",
        "stopped",
        "skipped",
        "infeasible",
        "diverged",
        "failed",
    ]
    assert StopRule("asha").learning and StopRule("skip").limit


# --- report keys: named in leantune.trials only ------------------------------------------

STRUCTURAL_KEY = re.compile(
    r"([\"'])(steps_planned|steps_done|progress_pct|fold_finished|folds_done|cv_score_mean|"
    r"cv_score_std)\1"
)


def test_no_structural_report_key_is_spelled_outside_its_owner():
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).as_posix() != "trials/_keys.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STRUCTURAL_KEY.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, "use leantune.trials' key names:\n" + "\n".join(found)


# --- run-directory file names: in leantune.results only ----------------------------------

FILE_NAME = re.compile(
    r"([\"'])(summary\.json|trials\.csv|trials\.parquet|reports\.parquet|ledger\.json|"
    r"spec\.yaml|comparison\.json|thesis\.json|mlflow\.db|report\.html|study\.json)\1"
)


def test_no_run_directory_file_is_named_outside_its_owner():
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[0] != "results"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FILE_NAME.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, "use leantune.results.RunDir's paths:\n" + "\n".join(found)


# --- no import circles -------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports anywhere in its body (a
    function's deferred import and a TYPE_CHECKING import count: each is a dependency)."""
    modules = {_module_name(path): path for path in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    edges.add(full if full in modules else base)
        graph[name] = (edges & modules.keys()) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_finds_a_circle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circles():
    graph = import_graph()
    assert len(graph) > 100 and "leantune.engine._trial" in graph["leantune.engine._tune"]
    assert cycles(graph) == []
