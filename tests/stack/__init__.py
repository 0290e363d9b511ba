"""The compose stack's tests: compose.yaml, Prometheus rules, the dashboard, end to end."""
