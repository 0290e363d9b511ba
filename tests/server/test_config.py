"""Configuration: defaults, environment variables, flags overriding them, bad values, and a --help that tells all."""
import subprocess
import sys

import pytest

from server.config import _FLAGS, DEFAULT_CONTROL_PORT, DEFAULT_METRICS_PORT, DEFAULT_PORT, env_name, parse_config
from tests.support import REPO_ROOT


def test_defaults_are_safe():
    config = parse_config([], environ={})
    assert (config.host, config.port, config.metrics_port) == ("127.0.0.1", DEFAULT_PORT, DEFAULT_METRICS_PORT)
    assert (config.control_host, config.control_port) == ("127.0.0.1", DEFAULT_CONTROL_PORT)
    assert (config.model, config.algorithm, config.switch_interval) == ("thread", "naive", 0.005)
    assert (DEFAULT_PORT, DEFAULT_METRICS_PORT) == (25000, 8000)


def test_every_flag_reads_its_environment_variable():
    environ = {"PRIMES_HOST": "0.0.0.0", "PRIMES_PORT": "26000", "PRIMES_MODEL": "process", "PRIMES_WORKERS": "3",
               "PRIMES_SWITCH_INTERVAL": "0.0005", "PRIMES_ALGORITHM": "sqrt", "PRIMES_MAX_N": "50",
               "PRIMES_METRICS_PORT": "9000", "PRIMES_CONTROL_HOST": "0.0.0.0", "PRIMES_MONITOR": "false"}
    config = parse_config([], environ=environ)
    assert (config.host, config.port, config.model, config.workers) == ("0.0.0.0", 26000, "process", 3)
    assert (config.switch_interval, config.algorithm, config.max_n) == (0.0005, "sqrt", 50)
    assert (config.metrics_port, config.control_host, config.monitor) == (9000, "0.0.0.0", False)
    assert {env_name(flag) for flag, _, _ in _FLAGS} >= {"PRIMES_HOST", "PRIMES_PORT", "PRIMES_METRICS_PORT",
                                                          "PRIMES_MODEL", "PRIMES_WORKERS", "PRIMES_SWITCH_INTERVAL",
                                                          "PRIMES_ALGORITHM", "PRIMES_MAX_N"}


def test_flags_override_the_environment():
    config = parse_config(["--port", "27000", "--model", "serial"], environ={"PRIMES_PORT": "26000",
                                                                           "PRIMES_MODEL": "pool"})
    assert (config.port, config.model) == (27000, "serial")


@pytest.mark.parametrize("argv,environ", [
    (["--model", "fibers"], {}), (["--switch-interval", "0"], {}), (["--switch-interval", "nan"], {}),
    (["--workers", "0"], {}), (["--port", "70000"], {}), ([], {"PRIMES_SWITCH_INTERVAL": "-1"}),
    ([], {"PRIMES_ALGORITHM": "quantum"}),
])
def test_bad_values_exit_with_a_message(argv, environ, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_config(argv, environ=environ)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def test_help_documents_every_flag_and_variable():
    out = subprocess.run([sys.executable, "-m", "server", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True).stdout
    for flag, _, _ in _FLAGS:
        assert flag in out and env_name(flag) in out.replace("\n", " ").replace("  ", "")
