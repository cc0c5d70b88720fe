"""One owner for each closed set: statuses and stop rules are spelled in leantune.trials only,
and the trial record needs nothing from the policies (no import circle)."""

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
