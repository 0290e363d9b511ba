"""The runner's reading of /metrics: prometheus-client's own parser, and a clear read error for anything else."""
import functools
import http.server
import threading

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest

from runner import promtext


def test_parse_reads_what_prometheus_client_writes():
    registry = CollectorRegistry()
    counter = Counter("primes_requests_total", "help", ["kind"], registry=registry)
    counter.labels(kind='odd "quoted" \\ kind').inc(3)
    samples = promtext.parse(generate_latest(registry).decode())
    assert samples.get_sum("primes_requests_total") == 3.0
    assert samples.labels_of("primes_requests_total") == [{"kind": 'odd "quoted" \\ kind'}]


def test_a_page_that_is_not_exposition_is_a_clear_read_error(tmp_path):
    (tmp_path / "metrics").write_text("<html><body>not metrics</body></html>\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            with pytest.raises(promtext.NotExposition, match="did not answer with Prometheus text exposition"):
                promtext.scrape(f"http://127.0.0.1:{httpd.server_address[1]}/metrics")
        finally:
            httpd.shutdown()
    assert issubclass(promtext.NotExposition, OSError)  # what the runner already treats as a failed read
