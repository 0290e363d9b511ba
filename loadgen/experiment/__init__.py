# GIL Lab's experiment runner: a YAML matrix of conditions, each measured the same way, written up as a report.
# `python -m loadgen.experiment run loadgen/experiments/lesson.yaml` (see loadgen/experiment/__main__.py).
