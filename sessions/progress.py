"""A progress bar on a terminal, for reading a large file: `ProgressBar(stream, label)(done, total)`.

On a terminal the bar redraws in place; elsewhere (a log, a pipe) it writes a line at each
tenth of the way, so a long import in CI still shows it is moving. Files smaller than
`MIN_BYTES` show nothing: they are read before a bar would be seen.
"""

from __future__ import annotations

import time
from typing import TextIO

MIN_BYTES = 4 << 20
WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label = stream, label
        self.started = time.monotonic()
        self.shown = -1
        self.drawn = False
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        if total < MIN_BYTES:
            return
        fraction = min(1.0, done / total)
        step = int(fraction * (100 if self.tty else 10))
        if step <= self.shown:
            return
        self.shown = step
        filled = int(fraction * WIDTH)
        elapsed = time.monotonic() - self.started
        line = (f"{self.label}: [{'#' * filled}{'.' * (WIDTH - filled)}] {fraction:4.0%} "
                f"{done / 2**20:,.0f} of {total / 2**20:,.0f} MiB, {elapsed:,.0f} s")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        """End the bar's line (on a terminal) so what follows starts on its own."""
        if self.drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()
