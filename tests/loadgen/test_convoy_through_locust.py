"""The lesson through Locust: a scenario (cheap alone, an expensive user joins, then leaves) against the real
thread-model server. The cheap rate while the expensive request runs is less than half the cheap-only rate.
"""
import csv
import os

from tests.loadgen.conftest import assert_clean_exit, run_locust
from tests.support import run_server

SCENARIO = """
spawn_rate: 10
phases:
  - {name: cheap only, duration: 6, users: {cheap: 1, expensive: 0}}
  - {name: expensive joins, duration: 7, users: {cheap: 1, expensive: 1}}
  - {name: expensive leaves, duration: 4, users: {cheap: 1, expensive: 0}}
"""


def cheap_history(prefix):
    """[(timestamp, user count, cheap requests so far)] from Locust's per-second history CSV."""
    with open(f"{prefix}_stats_history.csv", newline="") as f:
        return [(int(row["Timestamp"]), int(row["User Count"]), int(row["Total Request Count"]))
                for row in csv.DictReader(f) if row["Name"] == "cheap"]


def rate(rows):
    (t0, _, n0), (t1, _, n1) = rows[0], rows[-1]
    return (n1 - n0) / (t1 - t0)


def test_cheap_rate_collapses_while_the_expensive_user_runs(workdir):
    scenario = os.path.join(workdir, "convoy.yaml")
    with open(scenario, "w") as f:
        f.write(SCENARIO)
    prefix = os.path.join(workdir, "convoy")
    with run_server("--no-monitor", "--model", "thread") as server:  # naive algorithm: n=100000 takes most of an hour
        result = run_locust("--headless", "--host", f"127.0.0.1:{server.port}", "--scenario", scenario,
                            "--csv", prefix, "--csv-full-history", "--only-summary", cwd=workdir, timeout=90)
        cancelled = server.metric("primes_cancelled_total", kind="expensive")
        completed_expensive = server.metric("primes_requests_total", kind="expensive")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_clean_exit(result)
    rows = cheap_history(prefix)
    users = [count for _, count, _ in rows]
    joined = users.index(2)
    left = joined + users[joined:].index(1)  # the expensive user left: back to the cheap user alone
    alone = rows[1:joined]  # skip the first second (start-up)
    convoy = rows[joined + 1:left]  # skip the second in which it joined
    assert len(alone) >= 3 and len(convoy) >= 3, rows
    before, during = rate(alone), rate(convoy)
    print(f"cheap requests/s: alone {before:.0f}, with the expensive request in flight {during:.0f}")
    assert before > 500
    assert during < before / 2, (before, during)
    # Leaving closed its connection: the server stopped the computation instead of finishing it.
    assert cancelled == 1 and completed_expensive == 0
