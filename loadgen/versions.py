"""One Locust version on the master and every worker, or a clear error on both sides.

Locust's own check on connect only warns about a different minor version (and says nothing about a different
patch version) and then runs the worker anyway; master and workers on different hosts drift easily. Here each
worker tells its master its version as soon as it is connected; a master running another version logs one
error naming both and the fix, and tells that worker, which logs the same and exits with status 2. The master
keeps running for the workers that match.
"""
import logging

import gevent
import locust

log = logging.getLogger("loadgen.versions")

HELLO = "gil_lab_hello"
REFUSED = "gil_lab_refused"
EXIT_STATUS = 2
FIX = ("install the same version everywhere (loadgen/requirements.txt pins it; the gil-lab loadgen image has it)")


def mismatch(master_version, worker_version):
    """The error text, or None when the versions agree."""
    if worker_version == master_version:
        return None
    return (f"Locust version mismatch: this master runs Locust {master_version}, the worker runs "
            f"{worker_version or 'an unknown version'}; {FIX}")


def setup_master(runner):
    def on_hello(environment, msg, **_):
        data = msg.data if isinstance(msg.data, dict) else {}
        problem = mismatch(locust.__version__, data.get("locust"))
        if problem:
            log.error("worker %s refused: %s", msg.node_id, problem)
            runner.send_message(REFUSED, {"error": problem}, client_id=msg.node_id)

    runner.register_message(HELLO, on_hello)


def setup_worker(runner):
    def on_refused(environment, msg, **_):
        log.error("the master refused this worker: %s", (msg.data or {}).get("error", "no reason given"))
        environment.process_exit_code = EXIT_STATUS
        runner.quit()

    # Concurrent: the handler stops the runner, whose greenlets include the one that delivers messages.
    runner.register_message(REFUSED, on_refused, concurrent=True)
    gevent.spawn_later(0, runner.send_message, HELLO, {"locust": locust.__version__})
