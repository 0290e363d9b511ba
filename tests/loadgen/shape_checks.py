"""Checks of the scenario shape's steps, run by test_scenario_shape.py in a fresh interpreter: importing Locust
monkey-patches the process with gevent, which must not happen inside the shared pytest process.
"""
from loadgen.scenario import Scenario
from loadgen.shape import ScenarioShape
from loadgen.users import CheapUser, ExpensiveUser


def steps_to(shape, cheap, expensive, limit=10):
    """Ticks until the shape stops changing; returns the ticks that changed something."""
    changes, target = [], {"cheap": cheap, "expensive": expensive}
    for _ in range(limit):
        before = list(shape._stack)
        tick = shape._step(target)
        if shape._stack == before:
            return changes
        changes.append(tick)
    raise AssertionError("no steady state")


def the_lesson_needs_one_dispatch_per_change():
    shape = ScenarioShape()
    shape.scenario = Scenario(phases=(), spawn_rate=10)
    assert steps_to(shape, 1, 0) == [(1, 10, [CheapUser])]
    assert steps_to(shape, 1, 1) == [(2, 10, [ExpensiveUser])]
    assert steps_to(shape, 1, 0) == [(1, 10, None)]  # the newest user, the expensive one, is stopped
    assert shape._step({"cheap": 1, "expensive": 0}) == (1, 10, None)  # unchanged: the same tick again


def stopping_an_older_kind_restarts_the_newer_ones():
    shape = ScenarioShape()
    shape.scenario = Scenario(phases=(), spawn_rate=5)
    steps_to(shape, 2, 1)
    assert shape._stack == ["cheap", "cheap", "expensive"]
    # One cheap user less: Locust can only stop the newest, so the expensive one goes and comes back.
    assert steps_to(shape, 1, 1) == [(1, 5, None), (2, 5, [ExpensiveUser])]
    assert shape._stack == ["cheap", "expensive"]
    assert steps_to(shape, 0, 0) == [(0, 5, None)]
