"""Progress of ``push``, ``pull`` and ``copy``: rich bars per blob and overall when stderr is a
terminal, one plain line per finished blob otherwise, nothing with ``--quiet``.

Everything goes to stderr, so stdout carries only the command's result.
"""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from artreg.cli.output import is_tty

if TYPE_CHECKING:  # rich is imported only when bars are drawn
    from rich.progress import Progress, TaskID

__all__ = ["ProgressMode", "TransferProgress", "human_size", "short_digest"]


class ProgressMode(enum.StrEnum):
    BARS = "bars"
    LINES = "lines"
    QUIET = "quiet"

    @classmethod
    def choose(cls, quiet: bool, stream: IO[str] | None = None) -> ProgressMode:
        if quiet:
            return cls.QUIET
        return cls.BARS if is_tty(sys.stderr if stream is None else stream) else cls.LINES


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab`` (algorithm and the first 12 hex digits)."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest


def human_size(size: int | None) -> str:
    if size is None:
        return "? B"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


class TransferProgress:
    """Receives the OCI layer's progress events (``target``, ``digest``, ``done``, ``total``,
    ``skipped``, ``mounted``) and shows them. ``expected`` maps the digests about to move to their
    sizes, so the overall bar knows its total from the start."""

    def __init__(
        self,
        mode: ProgressMode,
        *,
        verb: str,
        expected: Mapping[str, int] | None = None,
        stream: IO[str] | None = None,
    ) -> None:
        self.mode = mode
        self.verb = verb
        self.stream = sys.stderr if stream is None else stream
        self.expected = dict(expected or {})
        self.blobs_done = 0
        self.skipped = 0
        self.mounted = 0
        self._seen: dict[str, int] = {}
        self._finished: set[str] = set()
        self._not_moved: set[str] = set()
        self._pending: str | None = None
        self._tasks: dict[str, TaskID] = {}
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        self._started = time.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> TransferProgress:
        if self.mode is ProgressMode.BARS:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
                refresh_per_second=8,
            )
            self._progress.start()
            total = sum(self.expected.values()) if self.expected else None
            self._overall = self._progress.add_task(f"{self.verb} total", total=total)
            for digest, size in self.expected.items():
                self._task(digest, size)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pending is not None:
            self._finish(self._pending, self.verb)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- events --------------------------------------------------------------------------------

    def _task(self, digest: str, total: int | None) -> TaskID:
        assert self._progress is not None
        task = self._tasks.get(digest)
        if task is None:
            task = self._progress.add_task(short_digest(digest), total=total)
            self._tasks[digest] = task
        return task

    def __call__(self, event: Any) -> None:
        digest: str = event.digest
        done: int = int(event.done)
        total: int | None = event.total if event.total is not None else self.expected.get(digest)
        skipped = bool(getattr(event, "skipped", False))
        mounted = bool(getattr(event, "mounted", False))
        # A blob the target already has reports "all bytes done" and then, at once, a skipped
        # (or mounted) event: a completion is only final once the next event is not that.
        if self._pending is not None and (self._pending != digest or not (skipped or mounted)):
            self._finish(self._pending, self.verb)
        if self._pending == digest:
            self._pending = None
        self._seen[digest] = done
        if self._progress is not None:
            task = self._task(digest, total)
            self._progress.update(task, completed=done, total=total)
            if self._overall is not None:
                self._progress.update(self._overall, completed=sum(self._seen.values()))
        if digest in self._finished:
            return
        if skipped or mounted:
            self._not_moved.add(digest)
            if skipped:
                self.skipped += 1
            else:
                self.mounted += 1
            self._finish(digest, "exists" if skipped else "mounted")
        elif total is not None and done >= total:
            self._pending = digest

    def _finish(self, digest: str, state: str) -> None:
        if self._pending == digest:
            self._pending = None
        if digest in self._finished:
            return
        self._finished.add(digest)
        self.blobs_done += 1
        if self.mode is ProgressMode.LINES:
            size = self.expected.get(digest, self._seen.get(digest))
            print(f"{state} {digest} {human_size(size)}", file=self.stream, flush=True)

    @property
    def bytes_moved(self) -> int:
        """Bytes actually transferred (blobs that were present or mounted do not count)."""
        return sum(done for digest, done in self._seen.items() if digest not in self._not_moved)

    def message(self, text: str) -> None:
        """A line of its own (not shown with --quiet)."""
        if self.mode is ProgressMode.QUIET:
            return
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started
