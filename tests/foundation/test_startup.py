"""What importing artreg costs: the heavy parts load where they are used, and nothing changes
for code that does use them."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_the_command_line_loads_without_the_oci_client_rich_or_asyncio() -> None:
    loaded = run(
        "import sys, artreg.cli; "
        "print(sorted(m for m in ('httpx', 'rich', 'asyncio', 'boto3', 'uvicorn') if m in sys.modules))"
    )
    assert loaded.strip() == "[]"


def test_httpx_main_still_works_after_artreg_deferred_it() -> None:
    out = run(
        "import sys, artreg.oci.client, httpx; "
        "print('click' in sys.modules); "
        "sys.argv = ['httpx', '--help']\n"
        "try:\n    httpx.main()\nexcept SystemExit:\n    pass\n"
    )
    first, rest = out.split("\n", 1)
    assert first == "False"  # httpx's command line was not imported with the client
    assert "Usage: httpx" in rest  # and loads when called
