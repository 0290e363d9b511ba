"""What both backends share: the interface the runner calls, their error type, the repository root and a free
loopback port."""
from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: the tests import this module for free_port without the runner's dependencies
    from runner.locust_api import LocustController
    from runner.promtext import Samples
    from runner.spec import Cell, Experiment

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BackendError(RuntimeError):
    """A backend cannot set up or measure a cell (bad limit, missing container, failed command)."""


@runtime_checkable
class Target(Protocol):
    """One cell's running server, as the measurement sees it."""

    locust_host: str  # where Locust sends the load (host:port as the Locust processes reach the server)

    def scrape(self) -> Samples: ...


@runtime_checkable
class Backend(Protocol):
    """What the runner calls on a backend: connect, problems, open, then start_cell/end_cell per cell, close."""

    name: str  # "native" or "compose", written into every row
    experiment: Experiment  # the matrix it runs: without the cells it skips (then skip_note says why)
    skip_note: str | None
    locust: LocustController | None  # set by open()

    def connect(self) -> None:
        """Reach what the checks need to read (raises BackendError)."""

    def problems(self) -> list[str]:
        """Why the matrix cannot run here, one message each; changes nothing."""

    def open(self) -> None:
        """Start what lives through the whole run (Locust; the stack with --start-stack)."""

    def start_cell(self, cell: Cell, name: str) -> Target:
        """A server ready for this cell's conditions."""

    def end_cell(self) -> None: ...

    def close(self) -> None:
        """Stop what open() and start_cell() started, also after an interrupt."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
