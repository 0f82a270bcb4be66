"""The progress display's bookkeeping over the OCI layer's event sequences."""

from __future__ import annotations

import io

from artreg.cli.progress import ProgressMode, TransferProgress, human_size, short_digest
from artreg.oci.image import ProgressEvent

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


def run(
    events: list[ProgressEvent], mode: ProgressMode = ProgressMode.LINES
) -> tuple[TransferProgress, list[str]]:
    stream = io.StringIO()
    with TransferProgress(
        mode, verb="pushed", expected={A: 100, B: 50, C: 10}, stream=stream
    ) as progress:
        for event in events:
            progress(event)
    return progress, stream.getvalue().splitlines()


def test_uploaded_present_and_mounted_blobs() -> None:
    progress, lines = run(
        [
            ProgressEvent("t", A, 40, 100),
            ProgressEvent("t", B, 50, 50),  # present: "all done" at once, then skipped
            ProgressEvent("t", B, 50, 50, skipped=True),
            ProgressEvent("t", A, 100, 100),
            ProgressEvent("t", C, 10, 10),  # mounted: "all done", then mounted
            ProgressEvent("t", C, 10, 10, mounted=True),
        ]
    )
    assert lines == [f"exists {B} 50 B", f"pushed {A} 100 B", f"mounted {C} 10 B"]
    assert progress.bytes_moved == 100
    assert progress.skipped == 1
    assert progress.mounted == 1
    assert progress.blobs_done == 3


def test_last_completion_is_flushed_and_retries_restart() -> None:
    progress, lines = run(
        [
            ProgressEvent("t", A, 60, 100),
            ProgressEvent("t", A, 0, 100),  # a retry starts over
            ProgressEvent("t", A, 100, 100),
        ]
    )
    assert lines == [f"pushed {A} 100 B"]
    assert progress.bytes_moved == 100


def test_quiet_prints_nothing() -> None:
    progress, lines = run([ProgressEvent("t", A, 100, 100)], ProgressMode.QUIET)
    assert lines == []
    assert progress.blobs_done == 1


def test_bars_render_to_the_stream() -> None:
    _, lines = run([ProgressEvent("t", A, 100, 100)], ProgressMode.BARS)
    text = "\n".join(lines)
    assert "pushed total" in text and short_digest(A) in text


def test_helpers() -> None:
    assert short_digest(A) == "sha256:aaaaaaaaaaaa"
    assert human_size(999) == "999 B"
    assert human_size(1_500_000) == "1.5 MB"
    assert human_size(None) == "? B"
    assert ProgressMode.choose(True) is ProgressMode.QUIET
    assert ProgressMode.choose(False, io.StringIO()) is ProgressMode.LINES
