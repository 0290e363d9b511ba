"""Where the load goes: parse Locust's --host ("host:port" or "tcp://host:port") into an address.
DEFAULT_PORT copies server.config.DEFAULT_PORT (loadgen is its own build context); a test checks they agree.
"""
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 25000
DEFAULT_TARGET = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


class TargetError(ValueError):
    """A --host value that is not host:port or tcp://host:port."""


def parse_target(text):
    """'host:port', 'tcp://host:port', 'host' or '' (defaults filled in) -> (host, port)."""
    raw = (text or "").strip()
    rest = raw
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme.lower() != "tcp":
            raise TargetError(f"--host {raw!r}: the prime server speaks raw TCP; use host:port or tcp://host:port")
    rest = rest.rstrip("/")
    if "/" in rest:
        raise TargetError(f"--host {raw!r}: no path allowed; use host:port or tcp://host:port")
    if rest.startswith("["):  # [::1]:25000
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        host, port_text = rest, ""
    host = host or DEFAULT_HOST
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TargetError(f"--host {raw!r}: port {port_text!r} is not a TCP port (1-65535)")
    return host, int(port_text)
