"""Benchmark: what one round trip to a worker process costs, the price the process model pays per task.

Run on demand: .venv/bin/python -m tests.reliability.bench_pipe_round_trip [--rounds N]
Two processes echo a small int over multiprocessing pipes (as ProcessCompute does), pinned to the same core or
to two cores, alone or with a busy loop on a core: each round trip wakes two sleeping processes. Needs 2 CPUs.
Prints p50, p90 and p99 in microseconds.
"""
import argparse
import multiprocessing
import os
import time


def _echo(tasks, results, cpu):
    os.sched_setaffinity(0, {cpu})
    while (n := tasks.recv()) is not None:
        results.send(n)


def _busy(cpu, stop):
    os.sched_setaffinity(0, {cpu})
    while not stop.value:
        pass


def round_trips(context, parent_cpu, child_cpu, busy_cpus, rounds):
    task_reader, task_writer = context.Pipe(duplex=False)
    result_reader, result_writer = context.Pipe(duplex=False)
    echo = context.Process(target=_echo, args=(task_reader, result_writer, child_cpu))
    stop = context.RawValue("b", 0)
    hogs = [context.Process(target=_busy, args=(cpu, stop)) for cpu in busy_cpus]
    for process in (echo, *hogs):
        process.start()
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {parent_cpu})
    try:
        task_writer.send(0)
        result_reader.recv()  # the echo process is up
        time.sleep(0.3)
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            task_writer.send(i)
            result_reader.recv()
            times.append(time.perf_counter() - started)
    finally:
        os.sched_setaffinity(0, affinity)
        task_writer.send(None)
        stop.value = 1
        for process in (echo, *hogs):
            process.join()
    return sorted(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    first, second = sorted(os.sched_getaffinity(0))[:2]
    context = multiprocessing.get_context("spawn")
    print("case                                   p50 us   p90 us   p99 us")
    for label, child, busy in (("same core", first, []), ("two cores", second, []),
                               ("same core, a busy loop on it", first, [first]),
                               ("two cores, a busy loop on the echo's", second, [second])):
        times = round_trips(context, first, child, busy, args.rounds)
        p50, p90, p99 = (times[int(len(times) * q)] * 1e6 for q in (0.5, 0.9, 0.99))
        print(f"{label:36} {p50:8.0f} {p90:8.0f} {p99:8.0f}")


if __name__ == "__main__":
    main()
