"""The load side's tests (loadgen/): Locust users, scenarios, metrics, the image."""
