#!/usr/bin/env bash
# The one test command: makes .venv, installs the project's own requirements into it, runs pytest.
# Usage: tests/run.sh [pytest arguments]   (e.g. tests/run.sh tests/server -x)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check \
  -r runner/requirements.txt -r tests/requirements.txt -r docs/requirements.txt
exec .venv/bin/python -m pytest "$@"
