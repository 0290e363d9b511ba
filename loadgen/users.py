"""The lesson's two clients as Locust users: CheapUser (run_simple_client) and ExpensiveUser (run_long_request).
Requests are named by kind ("cheap", "expensive"), never by the raw n; every answer is checked.
"""
import logging

import gevent
from locust import User, task
from locust.exception import StopUser

from loadgen.options import checked
from loadgen.target import DEFAULT_TARGET, parse_target
from loadgen.tcp_client import PrimeClient

log = logging.getLogger("loadgen")
REQUESTS_PER_TASK = 64


class PrimeUser(User):
    abstract = True
    host = DEFAULT_TARGET  # shown pre-filled in the web UI; --host / the web UI field override it
    kind = ""  # the request name and the option prefix: "cheap" or "expensive"
    _bad_setting_logged = False  # per test run: start_over() at each test start

    @staticmethod
    def start_over():
        """A new test run: a bad setting is logged again (the web form may repeat it)."""
        PrimeUser._bad_setting_logged = False

    def wait_time(self):
        return self._wait

    def on_start(self):
        env = self.environment
        self.client = None
        try:
            host, port = parse_target(self.host)
            self._wait = checked(env, f"{self.kind}_wait")
            self.client = PrimeClient(env.events, host, port, name=self.kind, n=checked(env, f"{self.kind}_n"),
                                      timeout=checked(env, f"{self.kind}_timeout"),
                                      connect_timeout=checked(env, "connect_timeout"),
                                      framing=checked(env, "framing"), backoff_max=checked(env, "reconnect_max"))
        except ValueError as exc:  # TargetError too: a bad --host or web UI field
            if not PrimeUser._bad_setting_logged:  # one line, not one per user
                PrimeUser._bad_setting_logged = True
                log.error("%s: %s not started", exc, type(self).__name__)
            # Stopped from its first task: Locust logs a traceback for any exception out of on_start.

    def on_stop(self):
        # Closing the connection tells the server to stop an expensive computation (it cancels within 1 s).
        if getattr(self, "client", None) is not None:
            self.client.close()

    @task
    def ask(self):
        if self.client is None:
            raise StopUser()
        client = self.client
        # Alone in its process, the user may wait for an answer in a blocking recv (PrimeClient.wait_blocking).
        runner = self.environment.runner
        client.wait_blocking = runner is not None and runner.user_count == 1
        if self._wait:
            client.ask()
            return
        # No wait time: ask again at once instead of a trip through Locust's scheduler and a gevent.sleep(0)
        # for every request (see bench_locust.py). Still one round trip and one request event per request;
        # back to the scheduler every REQUESTS_PER_TASK requests, so stopping and other greenlets are prompt.
        # Each event is fired once the next request is out (PrimeClient.ask(hold=True)).
        ask = client.ask
        try:
            for _ in range(REQUESTS_PER_TASK):
                ask(True)
        finally:
            client.flush()
        if client.wait_blocking:
            # Locust's gevent.sleep(0) between tasks runs waiting callbacks but may not poll sockets or timers;
            # a user that never waited in gevent's loop would hold off the web UI, heartbeats and timers.
            gevent.idle()


class CheapUser(PrimeUser):
    """Sends "1", expects "2", on one persistent connection, as fast as it can (or --cheap-wait apart)."""
    kind = "cheap"


class ExpensiveUser(PrimeUser):
    """Sends "100000" (--expensive-n), expects 1299709, then repeats."""
    kind = "expensive"


def apply_user_mix(environment, expensive_users, shape_active):
    """Set the class attributes Locust's dispatcher reads: --expensive-users of the users are ExpensiveUser.

    Runs on the master (or the only process) at test start, before any user is dispatched.
    """
    if shape_active:  # the scenario names per-class counts itself
        ExpensiveUser.fixed_count, ExpensiveUser.weight = 0, 1
        return
    if expensive_users < 0:  # possible from the web UI form, which does not run the flag's check
        log.error("--expensive-users %s: must be >= 0; using 0", expensive_users)
        expensive_users = 0
    only_expensive = [cls.__name__ for cls in environment.user_classes] == ["ExpensiveUser"]
    ExpensiveUser.fixed_count = expensive_users
    # With no fixed count the dispatcher would share users by weight: weight 0 keeps them all CheapUser.
    ExpensiveUser.weight = 1 if only_expensive else 0
