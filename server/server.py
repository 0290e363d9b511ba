"""The prime service itself: accept connections, read requests, answer with the nth prime.
The concurrency model decides who runs a connection: a new thread, a bounded pool, or one at a time.
"""
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from server import latency, protocol
from server.compute import InlineCompute, WorkerFailed
from server.primes import find_nth_prime
from server.connections import Connection, DisconnectWatcher, set_idle_timeout
from server.metrics import CHEAP, IDLE, NOT_COMPUTING

log = logging.getLogger("server")

# A bound on the table below: past it, a cheap request's computation dwarfs the general path's cost.
CHEAP_REQUESTS_MAX = 10_000


def cheap_requests(config):
    """{b"1": 1, ...}: the seed-style bytes of every valid cheap request (digits, no leading zero, within
    the request size and max_n), for up to CHEAP_REQUESTS_MAX of them. One dict lookup then checks and
    parses a cheap request, for less than the seed's own int(): the lesson's cheap stream pays nothing for
    our checks. Anything else takes the general path (server/protocol.py)."""
    last = min(config.cheap_max_n, config.max_n, CHEAP_REQUESTS_MAX)
    return {digits: n for n in range(1, last + 1) if len(digits := str(n).encode()) <= config.max_request_bytes}


class PrimeServer:
    def __init__(self, config, metrics, compute, listener):
        self.config = config
        self.metrics = metrics
        self.compute = compute
        self.listener = listener
        self.watcher = DisconnectWatcher()
        self.stopping = threading.Event()
        self._active = 0
        self._active_lock = threading.Lock()
        self._cheap_requests = cheap_requests(config)
        self._pool = None
        if config.model == "pool":
            self._pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="pool")
        self._accept_thread = threading.Thread(target=self._accept_loop, name="accept", daemon=True)

    def start(self):
        self.watcher.start()
        self._accept_thread.start()

    # -- accepting ---------------------------------------------------------------------------------------
    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                if self.stopping.is_set():
                    return
                time.sleep(0.01)  # e.g. EMFILE: back off instead of spinning
                continue
            self.metrics.connections.inc()
            if not self._admit():
                self._refuse(sock)
                continue
            if self.config.model == "serial":
                self._serve(sock)
            elif self._pool is not None:
                try:
                    self._pool.submit(self._serve, sock)
                except RuntimeError:  # pool shut down: we are stopping
                    self._release()
                    sock.close()
            else:
                threading.Thread(target=self._serve, args=(sock,), name="connection", daemon=True).start()

    def _admit(self):
        with self._active_lock:
            if self._active >= self.config.max_connections:
                return False
            self._active += 1
        self.metrics.connections_active.inc()
        return True

    def _release(self):
        with self._active_lock:
            self._active -= 1
        self.metrics.connections_active.dec()

    def _refuse(self, sock):
        error = protocol.too_many_connections()
        self.metrics.error_reasons[error.reason].inc()
        try:
            sock.settimeout(1)
            sock.sendall(error.reply())
        except OSError:
            pass
        finally:
            sock.close()

    # -- one connection ----------------------------------------------------------------------------------
    def _serve(self, sock):
        connection = Connection(sock)
        tally = self.metrics.open_tally()
        self.watcher.add(connection)
        try:
            if self.config.idle_timeout:
                set_idle_timeout(sock, self.config.idle_timeout)
            self._converse(connection, tally)
        except OSError:
            pass  # reset by the peer, idle too long, or shut down by stop(): nothing to answer
        except Exception:  # a bug must cost one connection, never the server
            log.exception("connection handler failed")
        finally:
            self.watcher.remove(connection)
            sock.close()
            self.metrics.close_tally(tally)  # before _release: no active connection means every count folded
            self._release()

    def _converse(self, connection, tally):
        sock = connection.sock
        framer = protocol.Framer(self.config.max_request_bytes)
        answer = self._answer
        # A stamped receive (kernel receipt time) at most once per sample period (server/latency.py), timed
        # by the start of the last computation (tally.started), so the check reads no clock of its own.
        due = 0.0 if latency.enable(sock) else float("inf")
        seed_requests = isinstance(self.compute, InlineCompute)
        while True:
            if seed_requests and not framer.line_mode:
                outcome = self._seed_requests(connection, tally, due)
                if outcome is None:
                    return  # cancelled: the client is gone
                data, received, due = outcome
            elif tally.started < due:
                data, received = sock.recv(4096), None
            else:
                data, received = latency.receive(sock, 4096)
            if not data:
                return  # the client closed: the seed's handler crashed here on int(b"")
            waited = 0.0
            requests = framer.feed(data)
            if len(requests) > 1:
                replies = self._answer_together(requests, connection, tally)
                if replies is None:
                    return  # cancelled: the client is gone
                sock.sendall(replies)
                if received is not None:  # one sample for the batch: its last request, answered last
                    waited = (time.time_ns() - received) * 1e-9
                    tally.waited(waited)
                    due = time.perf_counter() + latency.SAMPLE_PERIOD - waited
                continue
            for raw, newline in requests:  # the seed's ping-pong: one request per recv, one send
                reply = answer(raw, newline, connection, tally)
                if reply is None:
                    return  # cancelled: the client is gone
                sock.sendall(reply)
                if received is not None:
                    waited = (time.time_ns() - received) * 1e-9
                    tally.waited(waited)
            if received is not None:
                # The period counts from the receipt, not the answer: a request that waited longer than the
                # period for the GIL leaves the next receive due, so a convoy's requests are all sampled.
                due = time.perf_counter() + latency.SAMPLE_PERIOD - waited

    def _seed_requests(self, connection, tally, due):
        """Answer the seed's cheap requests (b"1": in the cheap-request table, no newline, computed in this
        thread) for as long as they come. Returns (data, receipt stamp or None, due) for the first data that
        is anything else (an expensive request, an error, b""), or None if a computation was cancelled.

        What framer.feed(), _answer() and ConnectionTally.computed() do for such a request, inline in one
        loop: their general cases cost more per request than the lesson's cheap answer itself. Every
        instruction before the send is on the client's clock, so all the counting comes after it.
        """
        sock = connection.sock
        is_prime, cancel_flag = self.compute.is_prime, connection.cancel_flag
        cheap_requests = self._cheap_requests  # every n in it is cheap
        cheap_durations = tally.durations[CHEAP]
        perf_counter = time.perf_counter
        started = tally.started  # kept in this frame, handed back to the tally on the way out
        received = None
        try:
            while True:
                if started >= due:
                    data, received = latency.receive(sock, 4096)
                else:
                    data = sock.recv(4096)
                n = cheap_requests.get(data)  # the request's checks and parse in one lookup
                if n is None:
                    return data, received, due
                tally.computing = n
                started = perf_counter()
                try:
                    prime = find_nth_prime(n, is_prime, cancel_flag)  # InlineCompute.nth_prime, one call less
                    if prime is None:
                        self.metrics.cancelled_by_kind[CHEAP].inc()
                        return None
                    finished = perf_counter()
                    sock.sendall(str(prime).encode())
                finally:
                    tally.computing = NOT_COMPUTING  # after the answer: the client does not wait for it
                cheap_durations.append(finished - started)  # ConnectionTally.computed(), inline
                if received is not None:
                    tally.answered = CHEAP
                    waited = (time.time_ns() - received) * 1e-9
                    tally.waited(waited)
                    due = perf_counter() + latency.SAMPLE_PERIOD - waited
                    received = None
        finally:
            tally.started = started

    def _answer_together(self, requests, connection, tally):
        """The replies to several requests that came in one recv, in order, as one send (None if cancelled).

        One send instead of one per reply: fewer system calls and GIL hand-offs, and a pipelining client's
        replies do not trickle out. The price: a reply waits for the later requests of its own batch.
        """
        if hasattr(self.compute, "nth_primes"):
            return self._answer_in_one_task(requests, connection, tally)
        replies = []
        for raw, newline in requests:
            reply = self._answer(raw, newline, connection, tally)
            if reply is None:
                return None
            replies.append(reply)
        return b"".join(replies)

    def _answer_in_one_task(self, requests, connection, tally):
        """process model: the valid requests of a batch go to one worker as one task, since a round trip to a
        worker costs far more than a cheap answer. Every request is counted as it would be one at a time, in
        order: errors in place, and nothing after a cancelled request."""
        max_n = self.config.max_n
        parsed, ns = [], []  # per request: its kind, or the error it gets
        for raw, newline in requests:
            try:
                if isinstance(raw, protocol.ProtocolError):
                    raise raw
                n = protocol.parse_n(raw, max_n)
            except protocol.ProtocolError as error:
                parsed.append((error, newline))
                continue
            parsed.append((self.metrics.kind_of(n), newline))
            ns.append(n)
        answers, failure = (), None
        if ns:
            # In progress as its largest n: an expensive request in it is what keeps the worker busy.
            tally.computing = max(ns)
            tally.started = time.perf_counter()
            try:
                answers = self.compute.nth_primes(ns, connection)
            except WorkerFailed as error:  # died during the task: its answers are lost with it
                log.warning("%s", error)
                failure = protocol.ProtocolError(protocol.WORKER_FAILED, "worker failed")
            finally:
                tally.computing = NOT_COMPUTING
        answers = iter(answers)
        replies = []
        for kind, newline in parsed:
            if failure is not None and not isinstance(kind, protocol.ProtocolError):
                kind = failure
            if isinstance(kind, protocol.ProtocolError):
                self.metrics.error_reasons[kind.reason].inc()
                tally.answered = IDLE  # no latency sample for an error, as one at a time
                replies.append(kind.reply())
                continue
            answer = next(answers)
            if answer is None:
                self.metrics.cancelled_by_kind[kind].inc()
                return None  # cancelled: the client is gone
            prime, seconds = answer
            tally.computed(kind, seconds)
            replies.append(str(prime).encode() + b"\n" if newline else str(prime).encode())
        return b"".join(replies)

    def _answer(self, raw, newline, connection, tally):
        try:
            if isinstance(raw, protocol.ProtocolError):
                raise raw
            n = protocol.parse_n(raw, self.config.max_n)
            kind = self.metrics.kind_of(n)
            tally.computing = n
            tally.started = started = time.perf_counter()
            try:
                prime = self.compute.nth_prime(n, connection)
            finally:
                tally.computing = NOT_COMPUTING
            if prime is None:
                self.metrics.cancelled_by_kind[kind].inc()
                return None
            tally.computed(kind, time.perf_counter() - started)
            return str(prime).encode() + b"\n" if newline else str(prime).encode()
        except protocol.ProtocolError as error:
            self.metrics.error_reasons[error.reason].inc()
            tally.answered = IDLE
            return error.reply()
        except WorkerFailed as failure:
            log.warning("%s", failure)
            error = protocol.ProtocolError(protocol.WORKER_FAILED, "worker failed")
            self.metrics.error_reasons[error.reason].inc()
            tally.answered = IDLE
            return error.reply()

    # -- stopping ----------------------------------------------------------------------------------------
    def cancel_all(self):
        """Set every connection's cancel flag. Pure Python with no blocking call, so the caller keeps the GIL:
        at a long switch interval each GIL hand-off costs a whole interval, so this must come first."""
        self.stopping.set()
        for connection in self.watcher.connections():
            connection.cancel()

    def stop(self):
        """Stop accepting, stop every computation, close every connection. Returns quickly."""
        self.cancel_all()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for connection in self.watcher.connections():
            connection.cancel()
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.compute.close()
        self.watcher.close()
