"""The control endpoint: read or change the running server's switch interval over HTTP, without a restart.
`python -m server.control switch-interval [SECONDS]` is its command-line client.
"""
import argparse
import http.server
import json
import os
import sys
import threading
import urllib.error
import urllib.request

from server.config import DEFAULT_CONTROL_PORT, env_name

MAX_BODY_BYTES = 1024


class ControlHandler(http.server.BaseHTTPRequestHandler):
    server_version = "gil-lab-control"

    def do_GET(self):
        if self.path == "/healthz":
            return self._send(200, "text/plain", b"ok\n")
        if self.path == "/switch-interval":
            return self._send_interval()
        return self._error(404, "unknown path; try /switch-interval")

    def do_PUT(self):
        if self.path != "/switch-interval":
            return self._error(404, "unknown path; try /switch-interval")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self._error(400, "bad Content-Length")
        if not 0 < length <= MAX_BODY_BYTES:
            return self._error(400, "send the interval in seconds as the body, e.g. 0.002")
        body = self.rfile.read(length).decode("utf-8", "replace").strip()
        try:
            if body.startswith("{"):
                seconds = float(json.loads(body)["switch_interval_s"])
            else:
                seconds = float(body)
        except (ValueError, KeyError, TypeError):
            return self._error(400, f"not a number of seconds: {body[:40]!r}")
        if not 0 < seconds <= 60:  # sys.setswitchinterval refuses <= 0; minutes would freeze the lab
            return self._error(400, "the switch interval must be > 0 and <= 60 seconds")
        self.server.set_switch_interval(seconds)
        return self._send_interval()

    do_POST = do_PUT

    def _send_interval(self):
        payload = {"switch_interval_s": sys.getswitchinterval()}
        return self._send(200, "application/json", json.dumps(payload).encode() + b"\n")

    def _error(self, status, message):
        return self._send(status, "application/json", json.dumps({"error": message}).encode() + b"\n")

    def _send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # the server logs the change itself


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, on_change):
        super().__init__(address, ControlHandler)
        self._on_change = on_change
        self._lock = threading.Lock()

    def set_switch_interval(self, seconds):
        with self._lock:
            sys.setswitchinterval(seconds)
            self._on_change(sys.getswitchinterval())

    def start(self):
        # No poll interval: a thread that woke twice a second would join every GIL hand-off (the server stops
        # by exiting, never through shutdown(), so nothing needs the poll).
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": None}, name="control",
                         daemon=True).start()


def main(argv=None):
    default_url = os.environ.get("PRIMES_CONTROL_URL") or (
        f"http://127.0.0.1:{os.environ.get(env_name('--control-port')) or DEFAULT_CONTROL_PORT}")
    parser = argparse.ArgumentParser(prog="python -m server.control",
                                     description="Read or change a running prime server's switch interval.")
    parser.add_argument("--url", default=default_url,
                        help="the server's control endpoint [env PRIMES_CONTROL_URL] (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait: at a 1 s switch interval the server may answer slowly")
    commands = parser.add_subparsers(dest="command", required=True)
    interval = commands.add_parser("switch-interval", help="print the switch interval, or set it to SECONDS")
    interval.add_argument("seconds", nargs="?", help="new switch interval in seconds, e.g. 0.002")
    args = parser.parse_args(argv)

    url = args.url.rstrip("/") + "/switch-interval"
    request = urllib.request.Request(url)
    if args.seconds is not None:
        request = urllib.request.Request(url, data=args.seconds.encode(), method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            print(json.loads(response.read())["switch_interval_s"])
            return 0
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read())["error"]
        except (ValueError, KeyError, TypeError):
            reason = f"HTTP {error.code} {error.reason}"
        print(f"error: {reason}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as error:
        print(f"error: cannot reach the control endpoint at {args.url}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
