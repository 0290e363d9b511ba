"""Drive a running Locust (our native one, or the stack's master) through its web REST API.
/swarm starts a load with the lab's --expensive-users mix, /stats/reset opens a measurement window, /stop ends it.
"""
import csv
import io
import time

import requests


class LocustError(RuntimeError):
    pass


class LocustController:
    def __init__(self, base_url, timeout=30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _post(self, path, **form):
        response = self.session.post(self.base_url + path, data=form or None, timeout=self.timeout)
        response.raise_for_status()
        return response

    def wait_ready(self, timeout=60.0, alive=lambda: True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise LocustError(f"Locust at {self.base_url} exited before its web API answered")
            try:
                self.session.get(self.base_url + "/stats/requests", timeout=2).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise LocustError(f"Locust's web API at {self.base_url} did not answer within {timeout:g} s")

    def swarm(self, cheap_users, expensive_users, host, spawn_rate=100, **options):
        """Start cheap_users + expensive_users users; --expensive-users of them are ExpensiveUser.

        `options` are the lab's other web-UI arguments (cheap_n, expensive_n, ...); a master hands them
        to its workers with the spawn message.
        """
        answer = self._post("/swarm", user_count=str(cheap_users + expensive_users), spawn_rate=str(spawn_rate),
                            host=host, expensive_users=str(expensive_users),
                            **{key: str(value) for key, value in options.items()}).json()
        if not answer.get("success"):
            raise LocustError(f"Locust refused the swarm: {answer.get('message')}")

    def stop(self):
        self._post("/stop")

    def reset_stats(self):
        self._post("/stats/reset")

    def worker_count(self):
        return self.session.get(self.base_url + "/stats/requests", timeout=self.timeout).json().get("worker_count")

    def stats(self):
        """{request name: {requests, failures, p50_ms, p99_ms, avg_ms, max_ms}} since the last reset.

        The CSV endpoint is read because the JSON one is cached for 2 s. Locust rounds percentiles to
        whole milliseconds below 100 ms; the average is exact.
        """
        response = self.session.get(self.base_url + "/stats/requests/csv", timeout=self.timeout)
        response.raise_for_status()
        rows = {}
        for row in csv.DictReader(io.StringIO(response.text)):
            rows[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p50_ms": _number(row.get("50%")),
                "p99_ms": _number(row.get("99%")),
                "avg_ms": _number(row.get("Average Response Time")),
                "max_ms": _number(row.get("Max Response Time")),
            }
        return rows


def _number(text):
    if text in (None, "", "N/A"):
        return None
    return float(text)
