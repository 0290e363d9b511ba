"""Command line of the experiment runner: `run` a YAML matrix on a backend, `compare` two results folders,
`validate` a file without running it. Every flag also reads an EXPERIMENT_* environment variable.
"""
import argparse
import os
import sys

from runner.compare import CompareError, compare
from runner.backend import Backend, BackendError
from runner.spec import SpecError, load_experiment

BACKENDS = ("native", "compose")


def _env(name, default=None):
    return os.environ.get(f"EXPERIMENT_{name}") or default


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m runner",
                                     description="GIL Lab's experiment runner: measure a matrix of conditions "
                                                 "(model x switch interval x CPU limit and placement x load) and "
                                                 "report it.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run an experiment file (e.g. runner/experiments/lesson.yaml)")
    run.add_argument("file", help="the experiment YAML file")
    run.add_argument("--out", default=_env("OUT"),
                     help="results folder [env EXPERIMENT_OUT] (default: results/<UTC timestamp>/)")
    run.add_argument("--backend", choices=BACKENDS, default=_env("BACKEND", "native"),
                     help="native: server subprocesses on 127.0.0.1, pinned to whole cores (placement pinned "
                          "only); compose: the Docker stack, pinned cores or CPU quotas set live (placement "
                          "quota unless the file says) [env EXPERIMENT_BACKEND] (default: %(default)s)")
    run.add_argument("--project", default=_env("PROJECT"),
                     help="compose: the stack's project name [env EXPERIMENT_PROJECT] (default: "
                          "COMPOSE_PROJECT_NAME, else the repository folder's name)")
    run.add_argument("--start-stack", action="store_true", default=_env("START_STACK") in ("1", "true"),
                     help="compose: start the stack's server and Locust (free ports) and take it down at the end "
                          "[env EXPERIMENT_START_STACK=1]")
    run.add_argument("--locust-workers", type=int, default=_env("LOCUST_WORKERS"),
                     help="Locust worker processes sharing the users (each uses one core at most; add them when the "
                          "report marks cells client-bound). native: a master and N workers on the cores the server "
                          "does not use (default 0: one Locust process); compose with --start-stack: worker "
                          "containers (default 1) [env EXPERIMENT_LOCUST_WORKERS]")
    validate = commands.add_parser("validate", help="check an experiment file and list its cells")
    validate.add_argument("file")
    validate.add_argument("--backend", choices=BACKENDS, default=_env("BACKEND", "native"))
    validate.add_argument("--project", default=_env("PROJECT"), help="compose: as for run")
    validate.add_argument("--start-stack", action="store_true", default=_env("START_STACK") in ("1", "true"),
                          help="compose: check the file for a run that starts its own stack")
    redo = commands.add_parser("report", help="write report.md, summary.json and the plots of a results folder "
                                              "again (e.g. after editing the plotting code)")
    redo.add_argument("folder")
    both = commands.add_parser("compare", help="two results folders side by side (Markdown on stdout)")
    both.add_argument("a", help="results folder A")
    both.add_argument("b", help="results folder B")
    both.add_argument("--out", help="also write the comparison to this file")
    return parser


def make_backend(args, experiment, out_dir) -> Backend:
    if args.backend == "compose":
        from runner.compose import ComposeBackend
        workers = getattr(args, "locust_workers", None)
        return ComposeBackend(experiment, out_dir, project=getattr(args, "project", None),
                              start_stack=getattr(args, "start_stack", False), workers=1 if workers is None else workers)
    from runner.native import NativeBackend
    return NativeBackend(experiment, out_dir, locust_workers=getattr(args, "locust_workers", None) or 0)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "compare":
            text = compare(args.a, args.b)
            print(text, end="")
            if args.out:
                with open(args.out, "w") as f:
                    f.write(text)
            return 0
        if args.command == "report":
            from runner.runner import rewrite_report
            print(rewrite_report(args.folder))
            return 0
        experiment = load_experiment(args.file)
        if args.command == "validate":
            backend = make_backend(args, experiment, "results")
            backend.connect()
            problems = backend.problems()
            if problems:
                raise SpecError(args.file, problems)
            if backend.skip_note:
                print(f"note: {backend.skip_note}")
            experiment = backend.experiment
            per_cell = experiment.planned_cell_seconds()
            print(f"{args.file}: {len(experiment.cells)} cells x {experiment.repetitions} repetitions, "
                  f"at least {per_cell * len(experiment.cells) * experiment.repetitions:.0f} s")
            for cell in experiment.cells:
                print(f"  {cell.label}")
            return 0
        from runner.runner import default_out_dir, run_experiment
        out_dir = args.out or default_out_dir()
        return run_experiment(experiment, make_backend(args, experiment, out_dir), out_dir)
    except (SpecError, CompareError, FileExistsError, BackendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
