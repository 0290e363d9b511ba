"""The free-threaded server image's tests and benchmark."""
