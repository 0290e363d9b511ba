"""GIL Lab's experiment runner: a YAML matrix of conditions, each measured the same way, written up as a report.
`python -m runner run runner/experiments/lesson.yaml` (see runner/__main__.py).
"""
