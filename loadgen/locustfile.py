"""GIL Lab's locustfile: raw-TCP users for the prime server, the lab's arguments, the opt-in scenario shape
and the /metrics route. Run from the repo root: locust -f loadgen/locustfile.py [--headless -u 2 ...]
"""
import logging
import os
import sys

# Locust imports this file by path; make `import loadgen` work from any working directory.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask import Response  # noqa: E402  (Locust's web UI is a Flask app)
from locust import events  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: E402

from loadgen import metrics, options, versions  # noqa: E402
from loadgen.scenario import ScenarioError, load_scenario  # noqa: E402
from loadgen.shape import ScenarioShape  # noqa: E402
from loadgen.target import TargetError, parse_target  # noqa: E402
from loadgen.users import CheapUser, ExpensiveUser, PrimeUser, apply_user_mix  # noqa: E402,F401  (Locust finds them here)

log = logging.getLogger("loadgen")


@events.init_command_line_parser.add_listener
def _add_arguments(parser, **_):
    options.add_arguments(parser)


@events.init.add_listener
def _on_init(environment, runner, web_ui, **_):
    if isinstance(runner, MasterRunner):
        versions.setup_master(runner)
    if isinstance(runner, WorkerRunner):
        versions.setup_worker(runner)
        # Workers take the lab's options from the master with each spawn message; only a worker's own
        # --prometheus-port (what this worker sent) is read from its command line.
        _serve_metrics(environment, runner, None)
        return
    try:
        if environment.host:
            parse_target(environment.host)
        scenario_path = options.option(environment, "scenario")
        scenario = load_scenario(scenario_path) if scenario_path else None
    except (ScenarioError, TargetError) as exc:
        log.error("%s", exc)  # before any load starts: a clear message and exit status 2, no traceback
        sys.exit(2)
    if isinstance(environment.shape_class, ScenarioShape):
        if scenario is None:
            environment.shape_class = None  # no --scenario: plain runs, -u and the web UI's user mix
        else:
            environment.shape_class.scenario = scenario
            log.info("scenario %s: %d phases, %.0f s", scenario_path, len(scenario.phases), scenario.duration_s)
    _serve_metrics(environment, runner, web_ui)


def _serve_metrics(environment, runner, web_ui):
    port = options.option(environment, "prometheus_port")
    if isinstance(runner, WorkerRunner) and not port:
        return  # a worker's counts reach Prometheus through its master
    if isinstance(runner, MasterRunner):
        load = metrics.LoadMetrics(lambda: runner.reported_user_classes_count)
        environment.events.worker_report.add_listener(load.on_worker_report)
    else:
        load = metrics.LoadMetrics(lambda: runner.user_classes_count)
        environment.events.request.add_listener(load.on_request)
    environment.load_metrics = load
    if web_ui is not None:
        # Unauthenticated on purpose, like any Prometheus target; keep the web UI port private.
        web_ui.app.add_url_rule("/metrics", "load_metrics",
                                lambda: Response(load.exposition(), content_type=CONTENT_TYPE_LATEST))
    if port:
        from prometheus_client import start_http_server
        start_http_server(port, addr=options.option(environment, "prometheus_host"), registry=load.registry)


@events.test_start.add_listener
def _on_test_start(environment, **_):
    PrimeUser.start_over()  # users run here on a worker or a local runner
    if isinstance(environment.runner, WorkerRunner):
        return  # the dispatcher (which reads the mix) runs on the master
    apply_user_mix(environment, options.option(environment, "expensive_users"),
                   shape_active=environment.shape_class is not None)


@events.test_stop.add_listener
def _on_test_stop(environment, **_):
    if isinstance(environment.shape_class, ScenarioShape):
        environment.shape_class.start_over()
