"""``python -m artreg_rpc`` runs the sidecar alone: the same as ``artreg rpc serve``."""

from __future__ import annotations

import sys


def main() -> None:
    from artreg.cli import app
    from artreg.cli import serve as _serve  # noqa: F401  (registers the rpc group)

    app(["rpc", "serve", *sys.argv[1:]], prog_name="python -m artreg_rpc")


if __name__ == "__main__":
    main()
