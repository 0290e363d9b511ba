"""GIL Lab's tests: one folder per part, shared helpers in tests/support.py (run them with tests/run.sh)."""
