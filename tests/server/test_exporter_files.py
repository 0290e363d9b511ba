"""The exporter reads /proc on every scrape: each read closes its file (a long-lived exporter must not leak)."""
import gc
import os
import warnings

from server.exporter import ServerProcessCollector


def test_reading_cpu_time_leaves_no_file_open():
    gc.collect()  # what earlier tests left for the collector (an unclosed socket, say) is not this read's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        (family,) = ServerProcessCollector(os.getpid()).collect()
        gc.collect()
    assert family.samples[0].value > 0
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not [leak for leak in leaks if "unclosed file" in leak], leaks
