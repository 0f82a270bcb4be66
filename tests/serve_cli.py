"""``artreg serve`` started as a process on free ports: the executable and its argument line."""

from __future__ import annotations

import sys
from pathlib import Path

#: The ``artreg`` of the interpreter running the tests.
ARTREG = str(Path(sys.executable).with_name("artreg"))
#: ``artreg serve`` with the sidecar and the embedded registry each on a free port.
SERVE_ON_FREE_PORTS = ("serve", "--rpc-port", "0", "--registry-port", "0")


def serve_args(data_dir: Path, *extra: str) -> list[str]:
    """``artreg serve``'s arguments (no executable): free ports, ``data_dir``, then ``extra``."""
    return [*SERVE_ON_FREE_PORTS, "--data-dir", str(data_dir), *extra]
