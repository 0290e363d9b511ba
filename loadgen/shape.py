"""The lesson as a LoadTestShape: each scenario phase names how many cheap and expensive users run, and for how long.
Opt-in: the locustfile keeps it only when --scenario is given (or it is picked in the web UI's class picker).
"""
import logging

from locust import LoadTestShape

from loadgen.scenario import LESSON, USER_KINDS, load_scenario
from loadgen.users import CheapUser, ExpensiveUser

CLASS_BY_KIND = {"cheap": CheapUser, "expensive": ExpensiveUser}
log = logging.getLogger("loadgen")


class ScenarioShape(LoadTestShape):
    # True: Locust neither warns that -u/-r/-t are ignored nor hides them in the web UI, which matters because
    # this class is in the locustfile even when no scenario is used. -t still ends a scenario early.
    use_common_options = True
    scenario = None  # set from --scenario by the locustfile; the lesson if picked in the web UI without one

    def __init__(self):
        super().__init__()
        self.start_over()

    def start_over(self):
        """Forget the users started by a previous run (called at test stop)."""
        self._stack = []  # kinds in the order started: Locust stops the newest users first
        self._phase_index = None
        self._last_tick = None  # repeated while nothing changes, so Locust does not re-dispatch

    def tick(self):
        if self.scenario is None:
            self.scenario = load_scenario(LESSON)
        found = self.scenario.phase_at(self.get_run_time())
        if found is None:
            log.info("scenario finished after %.0f s", self.scenario.duration_s)
            return None
        index, phase = found
        if index != self._phase_index:
            self._phase_index = index
            log.info("scenario phase %d/%d %r: %s for %g s", index + 1, len(self.scenario.phases), phase.name,
                     ", ".join(f"{count} {kind}" for kind, count in phase.users.items()), phase.duration_s)
        return self._step(phase.users)

    def _step(self, target):
        """One change towards the target per tick: stop surplus users (newest first), then start missing ones."""
        rate = self.scenario.spawn_rate
        counts = {kind: self._stack.count(kind) for kind in USER_KINDS}
        popped = False
        while any(counts[kind] > target[kind] for kind in USER_KINDS):
            counts[self._stack.pop()] -= 1  # may stop a wanted user too; it is started again next tick
            popped = True
        if popped:
            self._last_tick = (len(self._stack), rate, None)
            return self._last_tick
        for kind in USER_KINDS:  # cheap first, so an expensive user that joins is the newest and leaves first
            missing = target[kind] - counts[kind]
            if missing > 0:
                self._stack.extend([kind] * missing)
                self._last_tick = (len(self._stack), rate, [CLASS_BY_KIND[kind]])
                return self._last_tick
        if self._last_tick is None:
            self._last_tick = (0, rate, None)
        return self._last_tick
