"""``artreg endpoint`` and ``artreg prefix``: where a binding's images live."""

from __future__ import annotations

from artreg.cli import app
from artreg.cli.common import (
    DEFAULT_BINDING,
    EPILOG,
    BindingOption,
    Common,
    DebugOption,
    OutputOption,
    run_on_registry,
)
from artreg.cli.output import emit
from artreg.registry import ArtifactRegistry


@app.command("endpoint", epilog=EPILOG, rich_help_panel="Through a binding")
def endpoint(
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Print the binding's registry base URL, with its scheme (e.g. http://localhost:5000)."""
    common = Common.of(binding, output, debug)

    async def action(registry: ArtifactRegistry) -> str:
        return registry.registry_endpoint()

    url = run_on_registry(common, action)
    emit({"binding": common.binding, "endpoint": url}, common.output, lambda: url)


@app.command("prefix", epilog=EPILOG, rich_help_panel="Through a binding")
def prefix(
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Print the binding's upstream repository prefix ("" when it has no shared repository)."""
    common = Common.of(binding, output, debug)

    async def action(registry: ArtifactRegistry) -> str:
        return registry.upstream_repository_prefix()

    value = run_on_registry(common, action)
    emit({"binding": common.binding, "prefix": value}, common.output, lambda: value or "(none)")
