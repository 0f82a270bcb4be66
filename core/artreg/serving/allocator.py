"""Keeping glibc's allocator from handing a streaming server's buffers back to the kernel.

A server relaying a blob allocates and frees buffers of 64 KiB to a few MiB many times a
second. With glibc's defaults the first of each size is ``mmap``-ed, the dynamic threshold then
moves them to the heap, and the heap's top is trimmed (``brk``) whenever more than twice the
largest buffer is free at its end — which a relay reaches after every batch. Each trim returns
the pages, and the next batch faults them in again, zero-filled by the kernel: measured on the
proxy relaying a blob, ~230 page faults per MiB and half of its CPU per byte. Fixed thresholds
above the buffer sizes keep those pages in the process; what stays resident is bounded by the
trim threshold.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import sys
from typing import Final

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_for_streaming"]

log = logging.getLogger("artreg.serving")

#: Allocations up to this size come from the heap (glibc's default starts at 128 KiB).
MMAP_THRESHOLD: Final = 4 << 20
#: Free memory at the heap's top kept before it is returned to the kernel.
TRIM_THRESHOLD: Final = 16 << 20

# glibc's <malloc.h> parameter numbers
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def tune_for_streaming() -> bool:
    """Set glibc's mmap and trim thresholds for this whole process (call it only from a
    process that is a server, never from a library call); True when they were set, False on
    another C library or platform, where nothing changes."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    if not ok:
        log.debug("mallopt refused the streaming thresholds")
    return ok
