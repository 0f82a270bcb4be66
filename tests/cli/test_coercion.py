"""Command-line values are coerced to the same values typer gives, without loading pydantic for
the plain types; bad values still get typer's own messages."""

from __future__ import annotations

import enum
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from artreg.cli import _PanelGroup

BIN = Path(sys.executable).parent


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


def sample_app(seen: dict[str, Any]) -> typer.Typer:
    app = typer.Typer(cls=_PanelGroup, add_completion=False, rich_markup_mode=None)

    @app.command()
    def one(
        name: str,
        where: Path,
        jobs: int = typer.Option(4, min=1, max=64),
        count: int = 0,
        tag: list[str] | None = typer.Option(None, "--tag"),  # noqa: B008
        colour: Colour | None = None,
        upper: str = typer.Option("x", parser=str.upper),
        flag: bool = False,
    ) -> None:
        seen.update(name=name, where=where, jobs=jobs, count=count, tag=tag)
        seen.update(colour=colour, upper=upper, flag=flag)

    @app.command()
    def two() -> None:
        pass

    return app


def test_plain_values_come_out_as_typer_gives_them() -> None:
    seen: dict[str, Any] = {}
    result = CliRunner().invoke(
        sample_app(seen),
        [
            "one",
            "n",
            "some/dir",
            "--jobs",
            "64",
            "--count",
            "-3",
            "--tag",
            "a",
            "--tag",
            "b",
            "--colour",
            "blue",
            "--upper",
            "abc",
            "--flag",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == {
        "name": "n",
        "where": Path("some/dir"),
        "jobs": 64,
        "count": -3,
        "tag": ["a", "b"],
        "colour": Colour.blue,
        "upper": "ABC",
        "flag": True,
    }
    assert type(seen["where"]) is type(Path("x"))


def test_defaults_stay_defaults() -> None:
    seen: dict[str, Any] = {}
    result = CliRunner().invoke(sample_app(seen), ["one", "n", "."])
    assert result.exit_code == 0, result.output
    assert seen == {
        "name": "n",
        "where": Path("."),
        "jobs": 4,
        "count": 0,
        "tag": None,
        "colour": None,
        "upper": "X",  # typer runs a parser on the default too
        "flag": False,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "Input should be greater than or equal to 1"),
        (["--jobs", "65"], "Input should be less than or equal to 64"),
        (["--jobs", "x"], "Input should be a valid integer"),
        (["--colour", "green"], "'green' is not one of 'red', 'blue'."),
    ],
)
def test_bad_values_get_typers_messages(args: list[str], message: str) -> None:
    result = CliRunner().invoke(sample_app({}), ["one", "n", ".", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_transfer_command_runs_without_pydantic(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from artreg.cli import app\n"
        "r = CliRunner().invoke(app, ['push', sys.argv[1], '127.0.0.1:9/a/b:v1', '--jobs', '3',"
        " '--platform', 'linux/amd64', '--source-tag', 'v1', '-o', 'json', '--quiet'])\n"
        "print(r.exit_code, 'pydantic' in sys.modules)\n"
        "print(r.output)\n"
    )
    out = subprocess.run(
        [str(BIN / "python"), "-c", code, str(tmp_path / "no-layout")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first, rest = out.split("\n", 1)
    assert first == "2 False", out  # invalid input (no layout), and typer's adapters never loaded
    assert "no-layout" in rest
