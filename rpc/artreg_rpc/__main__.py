"""``python -m artreg_rpc`` runs the sidecar alone: the same as ``artreg rpc serve``."""

from artreg_rpc.cli import main

if __name__ == "__main__":
    main()
