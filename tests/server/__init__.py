"""The prime server's tests (server/): protocol, metrics, lifecycle, cgroup, the image."""
