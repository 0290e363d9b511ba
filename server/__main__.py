"""Entry point: `python -m server` starts the prime server (see server/main.py).
Handler threads may still be inside a cancelled computation at exit, so we leave without joining them.
"""
import os
import sys

from server.main import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
