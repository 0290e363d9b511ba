"""Where a request's prime is computed: in the connection's own thread, or in a pool of worker processes.
Both stop a computation when its connection's cancel flag is set (client gone, or the server stopping).
"""
import collections
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time

from server.lifeline import describe_exit, die_with_parent
from server.primes import ALGORITHMS, find_nth_prime

log = logging.getLogger("server")
READY = "ready"
START_TIMEOUT_S = 60.0  # for a new worker process to import and say it is ready


class InlineCompute:
    """thread, pool and serial models: the handler thread computes, holding the GIL as in the lesson."""

    def __init__(self, algorithm):
        self.is_prime = ALGORITHMS[algorithm]

    def nth_prime(self, n, connection):
        return find_nth_prime(n, self.is_prime, connection.cancel_flag)

    def close(self):
        pass


def nth_primes(ns, is_prime, cancel_flag):
    """The answers to a pipeline's requests, in order: (prime, compute seconds) each; the list ends with None
    where a computation was cancelled (the later ones are not computed)."""
    answers = []
    for n in ns:
        started = time.perf_counter()
        prime = find_nth_prime(n, is_prime, cancel_flag)
        if prime is None:
            answers.append(None)
            break
        answers.append((prime, time.perf_counter() - started))
    return answers


def _worker_main(tasks, results, cancel_flag, algorithm, server_pid):
    """A worker process: compute each n it is sent (None means cancelled), or each n of a list (nth_primes)."""
    die_with_parent(server_pid)  # a SIGKILLed server must not leave us computing for nobody
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the server stops us itself
    is_prime = ALGORITHMS[algorithm]
    results.send(READY)  # imported and set up: requests no longer wait for our start-up
    while True:
        try:
            n = tasks.recv()
        except (EOFError, OSError):
            return
        if isinstance(n, list):
            results.send(nth_primes(n, is_prime, cancel_flag))
        else:
            results.send(find_nth_prime(n, is_prime, cancel_flag))


class _Worker:
    def __init__(self, context, algorithm):
        self.cancel_flag = context.RawArray("b", 1)  # shared memory: the worker reads it, we set it
        # We keep a copy of the task pipe's reading end: after the worker died, a task still in that pipe
        # never reached it (and a send to a dead worker lands there instead of failing half the time).
        self._task_reader, self.tasks = context.Pipe(duplex=False)
        self.results, result_writer = context.Pipe(duplex=False)
        self.process = context.Process(target=_worker_main, name="primes-worker", daemon=True,
                                       args=(self._task_reader, result_writer, self.cancel_flag, algorithm,
                                             os.getpid()))
        self.process.start()
        result_writer.close()
        self.exited = False  # set by the supervisor once it has reaped the process

    def task_unread(self):
        """True if the worker never took the task sent to it (call once it is dead)."""
        try:
            return self._task_reader.poll(0)
        except OSError:
            return False

    def discard(self):
        """Make sure the process is gone and reaped, and close our ends of its pipes."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.tasks.close()
        self.results.close()
        self._task_reader.close()


class WorkerFailed(Exception):
    pass


class ProcessCompute:
    """process model: connection I/O stays in threads, the computation goes to one of N worker processes.

    Each worker owns a shared-memory cancel flag that its compute loop reads, so cancelling adds nothing
    to that loop but one subscript, as in the threaded models.

    A supervisor thread starts the workers and waits on their process sentinels: a worker that dies is
    reaped at once (no zombie) and, if it was idle, replaced at once. A request whose worker turns out to be
    dead before the request reached it goes to another worker; only a worker that dies while computing
    costs its request `ERR worker failed`. Workers are started only by the supervisor, a thread that lives
    as long as they should: their parent-death signal follows the thread that started them.
    """

    def __init__(self, algorithm, workers):
        self.algorithm = algorithm
        self.size = workers
        # spawn, not fork: the server has threads, and a forked child would inherit their locks.
        self.context = multiprocessing.get_context("spawn")
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._idle_ready = threading.Condition(self._lock)
        self._idle = collections.deque()
        self._workers = []  # every worker not yet replaced, idle or busy
        self._lost = []  # workers a request found dead: the supervisor replaces them
        self._wake_reader, self._wake_writer = os.pipe()
        self._started = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        self._supervisor.start()
        self._started.wait()  # every worker process is ready when we return

    def nth_prime(self, n, connection):
        return self._run(n, connection)

    def nth_primes(self, ns, connection):
        """A pipeline's requests as one task for one worker (one round trip instead of one per request): what
        nth_primes() returns, or [None] if the server is stopping."""
        answers = self._run(list(ns), connection)
        return [None] if answers is None else answers

    def _run(self, task, connection):
        """Send a task to an idle worker and return its answer (None: stopping)."""
        for _ in range(2 * self.size + 1):
            worker = self._take()  # requests wait here when every worker is busy
            if worker is None:
                return None  # stopping
            worker.cancel_flag[0] = 0
            connection.on_cancel(lambda: worker.cancel_flag.__setitem__(0, 1))
            try:
                try:
                    worker.tasks.send(task)
                    answer = worker.results.recv()
                except (EOFError, OSError) as error:
                    unread = worker.task_unread()  # before _lose(): the supervisor then closes the pipes
                    self._lose(worker)
                    if self.closed.is_set():
                        return None
                    if unread:
                        continue  # it died before taking the request: another worker gets it
                    raise WorkerFailed(f"worker process {worker.process.pid} died while computing "
                                       f"({type(error).__name__})") from None
            finally:
                connection.on_cancel(None)
            self._give(worker)
            return answer
        raise WorkerFailed("no worker process could take the request")

    def _take(self):
        with self._lock:
            while not self._idle and not self.closed.is_set():
                self._idle_ready.wait()
            return None if self.closed.is_set() else self._idle.popleft()

    def _give(self, worker):
        with self._lock:
            self._idle.append(worker)
            self._idle_ready.notify()

    def _lose(self, worker):
        with self._lock:
            self._lost.append(worker)
        self._wake()

    def _wake(self):
        try:
            os.write(self._wake_writer, b"!")
        except OSError:
            pass  # closed: we are stopping

    # -- the supervisor thread -----------------------------------------------------------------------------
    def _supervise(self):
        self._start_workers(self.size)
        self._started.set()
        while not self.closed.is_set():
            try:
                self._supervise_once()
            except Exception:  # a bug here must not leave the pool without workers
                log.exception("worker supervisor failed; carrying on")
                self.closed.wait(1.0)

    def _supervise_once(self):
        with self._lock:
            watched = {worker.process.sentinel: worker for worker in self._workers if not worker.exited}
        ready = multiprocessing.connection.wait([self._wake_reader, *watched])  # blocks: no timer
        if self.closed.is_set():
            return
        if self._wake_reader in ready:
            os.read(self._wake_reader, 4096)
        replace = []
        for sentinel in ready:
            worker = watched.get(sentinel)
            if worker is None:
                continue
            worker.process.join()  # reap it now, not at the next replacement
            worker.exited = True
            log.warning("worker process %d %s; starting another", worker.process.pid,
                        describe_exit(worker.process.exitcode))
            with self._lock:
                if worker in self._idle:  # nobody holds it: replace it now
                    self._idle.remove(worker)
                    replace.append(worker)
                # a busy worker's request sees end-of-file and hands it back through _lose()
        with self._lock:
            replace += self._lost
            self._lost.clear()
        replaced = 0
        for worker in replace:
            if worker in self._workers:
                self._workers.remove(worker)
                worker.discard()
                replaced += 1
        self._start_workers(replaced)

    def _start_workers(self, count):
        """Start `count` workers and make each one idle once it says it is ready (all import at once)."""
        while count > 0 and not self.closed.is_set():
            starting = []
            for _ in range(count):
                try:
                    starting.append(_Worker(self.context, self.algorithm))
                except OSError as error:  # e.g. out of processes or file descriptors
                    log.error("cannot start a worker process: %s", error)
            for worker in starting:
                try:
                    ready = worker.results.poll(START_TIMEOUT_S) and worker.results.recv() == READY
                except (EOFError, OSError):
                    ready = False
                if not ready:
                    worker.discard()  # killed if it still runs, and reaped: its exit status is known
                    log.error("worker process %d did not start (it %s)", worker.process.pid,
                              describe_exit(worker.process.exitcode))
                    continue
                with self._lock:
                    self._workers.append(worker)
                    self._idle.append(worker)
                    self._idle_ready.notify()
                count -= 1
            if count > 0:
                self.closed.wait(1.0)  # something keeps workers from starting: try again in a moment

    def close(self):
        with self._lock:
            self.closed.set()
            self._idle_ready.notify_all()
            workers = list(self._workers)
        self._wake()
        for worker in workers:
            worker.cancel_flag[0] = 1
            worker.process.terminate()
        self._supervisor.join(timeout=1)
        with self._lock:
            workers = list(self._workers)  # and any the supervisor started meanwhile
        for worker in workers:
            worker.process.join(timeout=1)
            if worker.process.is_alive():
                worker.process.kill()
