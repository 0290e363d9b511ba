"""Where a request's prime is computed: in the connection's own thread, or in a pool of worker processes.
Both stop a computation when its connection's cancel flag is set (client gone, or the server stopping).
"""
import multiprocessing
import queue
import signal
import threading

from server.primes import ALGORITHMS, find_nth_prime


class InlineCompute:
    """thread, pool and serial models: the handler thread computes, holding the GIL as in the lesson."""

    def __init__(self, algorithm):
        self.is_prime = ALGORITHMS[algorithm]

    def nth_prime(self, n, connection):
        return find_nth_prime(n, self.is_prime, connection.cancel_flag)

    def close(self):
        pass


def _worker_main(tasks, results, cancel_flag, algorithm):
    """A worker process: compute each n it is sent; None means cancelled."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the server stops us itself
    is_prime = ALGORITHMS[algorithm]
    while True:
        try:
            n = tasks.recv()
        except (EOFError, OSError):
            return
        results.send(find_nth_prime(n, is_prime, cancel_flag))


class _Worker:
    def __init__(self, context, algorithm):
        self.cancel_flag = context.RawArray("b", 1)  # shared memory: the worker reads it, we set it
        task_reader, self.tasks = context.Pipe(duplex=False)
        self.results, result_writer = context.Pipe(duplex=False)
        self.process = context.Process(target=_worker_main, name="primes-worker", daemon=True,
                                       args=(task_reader, result_writer, self.cancel_flag, algorithm))
        self.process.start()
        task_reader.close()
        result_writer.close()


class WorkerFailed(Exception):
    pass


class ProcessCompute:
    """process model: connection I/O stays in threads, the computation goes to one of N worker processes.

    Each worker owns a shared-memory cancel flag that its compute loop reads, so cancelling adds nothing
    to that loop but one subscript, as in the threaded models.
    """

    def __init__(self, algorithm, workers):
        self.algorithm = algorithm
        # spawn, not fork: the server has threads, and a forked child would inherit their locks.
        self.context = multiprocessing.get_context("spawn")
        self.idle = queue.Queue()
        self.workers = [_Worker(self.context, algorithm) for _ in range(workers)]
        for worker in self.workers:
            self.idle.put(worker)
        self.closed = threading.Event()

    def nth_prime(self, n, connection):
        worker = self.idle.get()  # requests queue here when every worker is busy
        try:
            worker.cancel_flag[0] = 0
            connection.on_cancel(lambda: worker.cancel_flag.__setitem__(0, 1))
            try:
                worker.tasks.send(n)
                return worker.results.recv()
            except (EOFError, OSError) as error:
                if self.closed.is_set():
                    return None
                worker = self._replace(worker)
                raise WorkerFailed(f"worker process failed: {error}") from None
            finally:
                connection.on_cancel(None)
        finally:
            self.idle.put(worker)

    def _replace(self, worker):
        index = self.workers.index(worker)
        self.workers[index] = _Worker(self.context, self.algorithm)
        return self.workers[index]

    def close(self):
        self.closed.set()
        for worker in self.workers:
            worker.cancel_flag[0] = 1
            worker.process.terminate()
        for worker in self.workers:
            worker.process.join(timeout=1)
            if worker.process.is_alive():
                worker.process.kill()
