"""Scenario files: the lesson's phases (how many cheap and expensive users, for how long) as YAML.
load_scenario() validates the whole file before any load starts and names the exact problem.
"""
import dataclasses
import os

import yaml

USER_KINDS = ("cheap", "expensive")
TOP_KEYS = ("description", "spawn_rate", "phases")
PHASE_KEYS = ("name", "duration", "users")
DEFAULT_SPAWN_RATE = 10.0
LESSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "lesson.yaml")


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message says where and why."""


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    duration_s: float
    users: dict  # {"cheap": int, "expensive": int}


@dataclasses.dataclass(frozen=True)
class Scenario:
    phases: tuple
    spawn_rate: float = DEFAULT_SPAWN_RATE
    description: str = ""

    @property
    def duration_s(self):
        return sum(phase.duration_s for phase in self.phases)

    def phase_at(self, seconds):
        """(index, phase) running `seconds` after the start, or None when the scenario is over."""
        end = 0.0
        for index, phase in enumerate(self.phases):
            end += phase.duration_s
            if seconds < end:
                return index, phase
        return None


def _unknown_keys(where, mapping, allowed):
    unknown = sorted(set(map(str, mapping)) - set(allowed))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(allowed)})")


def _number(where, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ScenarioError(f"{where}: must be a number, got {value!r}")
    if value < 0:
        raise ScenarioError(f"{where}: must not be negative, got {value!r}")
    if value == 0 and not allow_zero:
        raise ScenarioError(f"{where}: must be greater than 0, got {value!r}")
    if value == float("inf"):
        raise ScenarioError(f"{where}: must be finite")
    return float(value)


def _phase(where, raw):
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a mapping with keys {', '.join(PHASE_KEYS)}, got {raw!r}")
    _unknown_keys(where, raw, PHASE_KEYS)
    for key in ("duration", "users"):
        if key not in raw:
            raise ScenarioError(f"{where}: missing {key!r}")
    name = str(raw.get("name", where))
    duration = _number(f"{where}.duration (seconds)", raw["duration"])
    users = raw["users"]
    if not isinstance(users, dict):
        raise ScenarioError(f"{where}.users: must be a mapping like {{cheap: 1, expensive: 0}}, got {users!r}")
    _unknown_keys(f"{where}.users", users, USER_KINDS)
    counts = {}
    for kind in USER_KINDS:
        if kind not in users:
            raise ScenarioError(f"{where}.users: missing {kind!r} (how many {kind} users; 0 for none)")
        value = users[kind]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}.users.{kind}: must be a whole number of users, got {value!r}")
        if value < 0:
            raise ScenarioError(f"{where}.users.{kind}: must not be negative, got {value}")
        counts[kind] = value
    return Phase(name=name, duration_s=duration, users=counts)


def parse_scenario(text, source="<scenario>"):
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: must be a mapping with keys {', '.join(TOP_KEYS)}")
    _unknown_keys(source, raw, TOP_KEYS)
    phases = raw.get("phases")
    if not isinstance(phases, list) or not phases:
        raise ScenarioError(f"{source}: 'phases' must be a non-empty list of phases")
    spawn_rate = _number(f"{source}: spawn_rate", raw.get("spawn_rate", DEFAULT_SPAWN_RATE))
    parsed = tuple(_phase(f"{source}: phases[{index}]", phase) for index, phase in enumerate(phases))
    return Scenario(phases=parsed, spawn_rate=spawn_rate, description=str(raw.get("description") or ""))


def load_scenario(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file: {exc.strerror or exc}") from None
    return parse_scenario(text, source=path)
