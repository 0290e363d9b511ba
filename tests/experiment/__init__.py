"""The experiment runner's tests (runner/): native and compose runs, bad files, the python axis."""
