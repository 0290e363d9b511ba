"""GIL Lab's load side: raw-TCP Locust users for the prime server, the lesson as a scenario, load metrics.
The locustfile is loadgen/locustfile.py; the modules here are importable as `loadgen.<name>` by other parts.
"""
