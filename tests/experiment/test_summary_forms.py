"""A run summarises the rows it holds in memory (ints); `runner report` summarises the same rows read back from
results.csv (strings). Both must give the same summary, or the committed report changes when regenerated."""
import os

from runner.results import read_csv, summarise
from tests.support import REPO_ROOT

FOLDER = os.path.join(REPO_ROOT, "docs", "experiment", "placement-native")


def as_a_run_holds_them(row):
    held = dict(row)
    for name in ("client_bound", "locust_processes", "cheap_users", "expensive_users", "workers", "repetition"):
        if held.get(name, "") != "":
            held[name] = int(held[name])
    return held


def test_rows_in_memory_and_rows_from_the_csv_summarise_alike():
    rows = read_csv(FOLDER)
    assert any(row["client_bound"] == "0" for row in rows) and any(row["locust_processes"] for row in rows)
    from_csv = summarise(rows)
    in_memory = summarise([as_a_run_holds_them(row) for row in rows])
    assert in_memory == from_csv
    assert {entry["client_bound"] for entry in from_csv} == {False}
