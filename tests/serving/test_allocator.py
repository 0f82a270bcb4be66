"""The allocator tuning a streaming server applies to its own process (run in a child process,
so the test process keeps glibc's defaults)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Relays 192 MiB through buffers of the sizes the proxy uses (256 KiB socket reads, 1 MiB
# batches), and prints the minor page faults taken per MiB relayed.
_RELAY = """
import resource, sys
from artreg.serving.allocator import tune_for_streaming
tuned = tune_for_streaming() if sys.argv[1] == "tuned" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(64):
    ahead = [bytes(256 << 10) for _ in range(12)]  # 3 MiB read ahead of the writer
    batches = [b"".join(ahead[i : i + 4]) for i in range(0, 12, 4)]  # handed on in 1 MiB
    del ahead, batches
after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(tuned, (after - before) / (64 * 3))
"""


def _relay(mode: str) -> tuple[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _RELAY, mode], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], float(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_tuned_process_keeps_relay_buffers_instead_of_faulting_them_in_again() -> None:
    tuned, faults = _relay("tuned")
    assert tuned == "True"
    # tuned: the heap is faulted in once (~6 MiB of 192); by default, at every round (256 4 KiB
    # pages make a MiB)
    assert faults < 32
    _, untuned = _relay("default")
    assert untuned > 128
