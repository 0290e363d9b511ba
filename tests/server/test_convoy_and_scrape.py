"""The lesson itself, asserted with wide margins: a hog starves the cheap stream in the thread model, not in
the process model; and /metrics stays fast at any switch interval because the exporter has its own GIL.
"""
import statistics
import time
import urllib.request

import pytest

from tests.support import ask, cheap_rate, expensive_request, run_server, wait_until


def rates(server, seconds=2.0):
    alone = cheap_rate(server.port, seconds)
    with expensive_request(server.port):
        wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
        with_hog = cheap_rate(server.port, seconds)
    return alone, with_hog


def test_thread_model_convoy():
    with run_server("--model", "thread") as server:
        alone, with_hog = rates(server)
    print(f"thread model: {alone:,.0f} cheap req/s alone, {with_hog:,.0f} with one expensive request")
    assert with_hog < alone / 2


def test_process_model_keeps_the_cheap_stream_going():
    with run_server("--model", "process", "--workers", "2") as server:
        alone, with_hog = rates(server)
    print(f"process model: {alone:,.0f} cheap req/s alone, {with_hog:,.0f} with one expensive request")
    assert with_hog > alone * 0.25


def test_switch_interval_changes_the_convoy_live():
    with run_server("--model", "thread", "--switch-interval", "0.0005") as server:
        with expensive_request(server.port):
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            short = cheap_rate(server.port, 2.0)
            server.control(body="0.05")
            assert server.metric("primes_switch_interval_seconds") == pytest.approx(0.05)
            long = cheap_rate(server.port, 2.0)
    print(f"one expensive request: {short:,.0f} cheap req/s at 0.5 ms, {long:,.0f} at 50 ms")
    assert long < short / 2


@pytest.mark.parametrize("model", ["thread", "process"])
def test_scrape_stays_fast_with_a_hog_at_a_1s_switch_interval(model):
    with run_server("--model", model, "--switch-interval", "1") as server:
        with expensive_request(server.port):
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            durations = []
            for _ in range(20):
                started = time.perf_counter()
                text = server.scrape_text()
                durations.append(time.perf_counter() - started)
                assert 'primes_requests_in_progress{kind="expensive"} 1.0' in text
                time.sleep(0.05)
    durations.sort()
    print(f"{model}: scrape median {statistics.median(durations) * 1000:.1f} ms, "
          f"max {durations[-1] * 1000:.1f} ms (an in-process exporter takes seconds here)")
    assert durations[-1] < 0.5  # target p99 < 100 ms; an in-process exporter would take 1-16 s


def test_control_endpoint():
    with run_server("--switch-interval", "0.002") as server:
        assert server.control() == '{"switch_interval_s": 0.002}\n'
        assert server.metric("primes_switch_interval_seconds") == 0.002
        assert server.control(body="0.0005") == '{"switch_interval_s": 0.0005}\n'
        assert server.control(body='{"switch_interval_s": 0.001}') == '{"switch_interval_s": 0.001}\n'
        assert server.metric("primes_switch_interval_seconds") == 0.001
        for bad in ("abc", "0", "-1", "1e9", '{"x": 1}'):
            with pytest.raises(urllib.error.HTTPError) as refused:
                server.control(body=bad)
            assert refused.value.code == 400 and "error" in refused.value.read().decode()
            refused.value.close()  # an HTTPError holds its connection open until closed
        with pytest.raises(urllib.error.HTTPError) as missing:
            server.control("/nothing")
        assert missing.value.code == 404
        missing.value.close()
        assert server.control("/healthz") == "ok\n"
        assert server.metric("primes_switch_interval_seconds") == 0.001


def test_control_command_line():
    import subprocess
    import sys

    from tests.support import REPO_ROOT
    with run_server() as server:
        url = f"http://127.0.0.1:{server.control_port}"
        run = lambda *args: subprocess.run([sys.executable, "-m", "server.control", "--url", url, *args],  # noqa
                                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        assert run("switch-interval", "0.003").stdout == "0.003\n"
        assert run("switch-interval").stdout == "0.003\n"
        assert server.metric("primes_switch_interval_seconds") == 0.003
        refused = run("switch-interval", "soon")
        assert refused.returncode == 1 and "not a number" in refused.stderr
    unreachable = run("switch-interval")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def quantile(samples, name, kind, q):
    """histogram_quantile's answer as an upper bucket bound: the smallest `le` holding a share q of the count."""
    buckets = sorted((float(dict(labels)["le"]), value) for (sample, labels), value in samples.items()
                     if sample == name + "_bucket" and dict(labels)["kind"] == kind)
    total = buckets[-1][1]
    assert total > 0, f"no {kind} observations in {name}"
    return next(bound for bound, count in buckets if count >= q * total)


def test_latency_shows_the_convoy_that_compute_time_misses():
    """A hog at a 0.1 s switch interval: cheap requests wait about an interval for the GIL. The latency from the
    kernel's receipt counts that wait; the compute time, which starts once the thread holds the GIL, does not."""
    interval = 0.1
    with run_server("--model", "thread", "--switch-interval", str(interval)) as server:
        with expensive_request(server.port):
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            with server.connect() as sock:
                for _ in range(20):  # bounded: about 20 switch intervals
                    # A pause between requests, as a Locust user has: each request then reaches a server whose
                    # GIL the hog holds (back to back, the handler often takes the GIL back first).
                    time.sleep(0.02)
                    assert ask(sock, b"1") == b"2"
                wait_until(lambda: server.metric("primes_requests_total", kind="cheap") == 20, timeout=10)
        samples = server.scrape()
    # A request that waited longer than the 10 ms sample period leaves the next one sampled too.
    assert samples[("primes_request_latency_seconds_count", frozenset({("kind", "cheap")}))] >= 5
    latency_p99 = quantile(samples, "primes_request_latency_seconds", "cheap", 0.99)
    compute_p99 = quantile(samples, "primes_request_duration_seconds", "cheap", 0.99)
    print(f"cheap p99 during the convoy at {interval}s: latency <= {latency_p99}s, compute <= {compute_p99}s")
    assert latency_p99 > interval
    assert compute_p99 <= interval / 4
