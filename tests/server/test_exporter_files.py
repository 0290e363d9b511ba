"""The exporter reads /proc on every scrape: each read closes its file (a long-lived exporter must not leak)."""
import gc
import os
import warnings

from server.exporter import ServerProcessCollector


def test_reading_cpu_time_leaves_no_file_open():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        (family,) = ServerProcessCollector(os.getpid()).collect()
        gc.collect()
    assert family.samples[0].value > 0
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]
