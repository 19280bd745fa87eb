"""A progress bar for long runs (``privmoe verify``, ``make report``): rich, on stderr, only on a terminal."""
from __future__ import annotations

import sys


class Progress:
    """A rich progress bar on stderr (silent when stderr is not a terminal or output is JSON)."""

    def __init__(self, total: int, label: str, quiet: bool = False) -> None:
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total)

    def advance(self, description: str | None = None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=description or self.bar.tasks[0].description)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
