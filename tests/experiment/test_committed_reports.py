"""The results folders committed under docs/experiment/ carry the report that `python -m runner report` writes
today: a change to the report format regenerates them (`python -m runner report docs/experiment/<folder>`)."""
import os
import shutil

import pytest

from runner.plots import FILES, worth_showing
from tests.experiment.conftest import run_cli
from tests.support import REPO_ROOT

COMMITTED = os.path.join(REPO_ROOT, "docs", "experiment")
FOLDERS = sorted(name for name in os.listdir(COMMITTED) if os.path.isdir(os.path.join(COMMITTED, name)))


def test_there_are_committed_results():
    assert len(FOLDERS) >= 5, FOLDERS


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_committed_report_is_what_the_report_command_writes(folder, tmp_path):
    copy = tmp_path / folder
    shutil.copytree(os.path.join(COMMITTED, folder), copy)
    done = run_cli("report", str(copy), timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("report.md", "summary.json", "metadata.json"):
        with open(os.path.join(COMMITTED, folder, name)) as committed:
            assert (copy / name).read_text() == committed.read(), (
                f"docs/experiment/{folder}/{name} is not what today's runner writes: "
                f"run `python -m runner report docs/experiment/{folder}` and commit the result")


def test_a_plot_along_a_single_valued_axis_is_not_shown():
    one_cpu = [{"switch_interval_s": 0.005, "cpus": "1"}, {"switch_interval_s": 0.001, "cpus": "1"}]
    assert worth_showing(one_cpu) == [FILES[0], FILES[2]]
    one_interval = [{"switch_interval_s": 0.005, "cpus": "1"}, {"switch_interval_s": 0.005, "cpus": "all"}]
    assert worth_showing(one_interval) == [FILES[1], FILES[2]]
