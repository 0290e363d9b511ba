"""Fixtures of the multi-host tests: the right to make network namespaces (skipped with the reason without it,
a failure under CI=true), and a namespace lab that is torn down whatever the test did."""
import pytest

from tests.multihost.netns import Lab, can_create_namespaces
from tests.support import skip_or_fail


@pytest.fixture(scope="session")
def netns_rights():
    ok, reason = can_create_namespaces()
    if not ok:
        skip_or_fail(f"the multi-host test needs network namespaces: {reason}")


@pytest.fixture
def lab_factory(netns_rights):
    """lab_factory(["server", "control", ...]) builds a Lab; every lab made is closed after the test."""
    labs = []

    def make(roles):
        lab = Lab(roles)
        labs.append(lab)
        return lab

    try:
        yield make
    finally:
        errors = []
        for lab in labs:
            try:
                lab.close()
            except Exception as exc:  # noqa: BLE001 - close every lab, then report
                errors.append(exc)
        if errors:
            raise errors[0]
