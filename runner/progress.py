"""The progress line while an experiment runs: a bar of cell runs done, the current cell and phase, and an ETA.
On a terminal it redraws one line; otherwise (CI logs, pipes) it prints a line only when the phase changes.
"""
import sys
import time

BAR_WIDTH = 24


def format_duration(seconds):
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    def __init__(self, total, planned_cell_s, stream=None):
        self.total = total
        self.planned_cell_s = planned_cell_s
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.done = 0
        self.cell_started = self.started
        self.label = ""
        self.last_line = ""

    def eta(self):
        elapsed_done = self.cell_started - self.started
        per_cell = elapsed_done / self.done if self.done else self.planned_cell_s
        in_cell = time.monotonic() - self.cell_started
        return max(0.0, per_cell * (self.total - self.done) - min(in_cell, per_cell))

    def start_cell(self, label):
        self.cell_started = time.monotonic()
        self.label = label

    def finish_cell(self):
        self.done += 1

    def status(self, phase):
        filled = int(BAR_WIDTH * self.done / max(1, self.total))
        line = (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} | {self.label} | {phase} | "
                f"ETA {format_duration(self.eta())}")
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(len(self.last_line[:160])))
            self.stream.flush()
        elif phase != getattr(self, "_last_phase", None):
            self._last_phase = phase
            self.stream.write(line + "\n")
            self.stream.flush()
        self.last_line = line

    def close(self, message):
        if self.tty:
            self.stream.write("\n")
        self.stream.write(message + "\n")
        self.stream.flush()
