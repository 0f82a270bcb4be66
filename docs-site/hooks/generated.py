"""mkdocs hook: fill ``<!-- generated: NAME [ARG] -->`` markers in pages from the code itself.

Reference tables are generated at build time so they cannot drift from what artreg does:

- ``error-codes``: every error kind in ``artreg.errors.ERROR_CLASSES``.
- ``rpc-methods`` / ``rpc-schemas``: the methods and types of ``schemas/openrpc.json``.
- ``binding-fields SERVICE``: the binding JSON fields of ``artreg.binding``'s struct for a service.
- ``cli``: every ``artreg`` command with its arguments and options, from the typer app.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = re.compile(r"^<!--\s*generated:\s*(?P<name>[\w-]+)(?:\s+(?P<arg>[\w-]+))?\s*-->\s*$", re.M)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    root = Path(config.config_file_path).resolve().parent.parent

    def replace(match: re.Match[str]) -> str:
        name, arg = match.group("name"), match.group("arg")
        generator = GENERATORS.get(name)
        if generator is None:
            raise PluginError(f"{page.file.src_path}: unknown generated block {name!r}")
        return generator(root, arg)

    return MARKER.sub(replace, markdown)


#: Docstring habits that read badly on a web page: Sphinx roles before code spans, and notes
#: pointing at the project's internal behaviour reference.
_SPHINX_ROLE = re.compile(r":(?:data|class|func|meth|mod|attr|exc|obj):(?=<code>)")
_INTERNAL_NOTE = re.compile(r"\s*\((?:reference|seed)\b[^)<]*\)")


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not page.file.src_path.startswith("reference/"):
        return html
    return _INTERNAL_NOTE.sub("", _SPHINX_ROLE.sub("", html))


# -- helpers -------------------------------------------------------------------------------------


def _cell(text: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    parts = " ".join(str(text).split()).split("`")
    # Pipes inside code spans do not split cells; outside them they must be escaped.
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def _table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    headers = list(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    """Plain text as Markdown: brackets, asterisks and angle brackets outside code spans are
    escaped so help text such as ``REPO[:TAG][@DIGEST]`` is not read as links or emphasis."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = (
            parts[i]
            .replace("\\", "\\\\")
            .replace("[", "\\[")
            .replace("]", "\\]")
            .replace("*", "\\*")
            .replace("<", "&lt;")
        )
    return "`".join(parts)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# -- error codes ---------------------------------------------------------------------------------


def error_codes(root: Path, arg: str | None) -> str:
    from artreg.errors import ERROR_CLASSES

    rows = []
    for code, cls in ERROR_CLASSES.items():
        fields = [f"`{f}`" for f in cls.fields] + [f"`{f}`?" for f in cls.optional_fields]
        rows.append(
            (
                f"`{code}`",
                f"`{cls.__name__}`",
                cls.http_status if cls.http_status is not None else "—",
                _yes(cls.retryable),
                _yes(cls.internal),
                ", ".join(fields) or "—",
                f"`{cls.template}`",
            )
        )
    return _table(
        ("Code", "Python class", "HTTP status", "Retryable", "Internal", "Context", "Message"),
        rows,
    )


# -- JSON-RPC (OpenRPC) --------------------------------------------------------------------------


def _openrpc(root: Path) -> dict[str, Any]:
    path = root / "schemas" / "openrpc.json"
    if not path.is_file():
        raise PluginError(f"{path} not found: run `make schemas`")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _anchor(name: str) -> str:
    return name.lower()


def _type(schema: dict[str, Any]) -> str:
    """A short TypeScript-like rendering of a JSON Schema, with links to named types."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#{_anchor(name)})"
    if "anyOf" in schema or "oneOf" in schema:
        return " | ".join(_type(s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "enum" in schema:
        return " | ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if kind == "array":
        return _type(schema.get("items", {})) + "[]"
    if kind == "string" and schema.get("contentEncoding") == "base64":
        return "`string` (base64)"
    if kind == "integer" and ("minimum" in schema or "maximum" in schema):
        return f"`integer` ({schema.get('minimum', '…')}-{schema.get('maximum', '…')})"
    if isinstance(kind, str):
        return f"`{kind}`"
    if isinstance(kind, list):
        return " | ".join(f"`{k}`" for k in kind)
    return "any"


def rpc_methods(root: Path, arg: str | None) -> str:
    document = _openrpc(root)
    out = [
        f"_Generated from `schemas/openrpc.json` (OpenRPC {document['openrpc']}, "
        f"{document['info']['title']} {document['info']['version']})._\n",
        _table(
            ("Method", "Summary"),
            (
                (f"[`{m['name']}`](#{_anchor(m['name'].replace('.', ''))})", m.get("summary", ""))
                for m in document["methods"]
            ),
        ),
    ]
    for method in document["methods"]:
        out.append(f"### `{method['name']}` {{#{_anchor(method['name'].replace('.', ''))}}}\n")
        if method.get("summary"):
            out.append(method["summary"] + "\n")
        if method.get("description"):
            out.append(method["description"] + "\n")
        params = method.get("params", [])
        if params:
            out.append("**Params** (by name):\n")
            out.append(
                _table(
                    ("Name", "Type", "Required"),
                    (
                        (
                            f"`{p['name']}`",
                            _type(p.get("schema", {})),
                            _yes(p.get("required", False)),
                        )
                        for p in params
                    ),
                )
            )
        result = method.get("result")
        if result is not None:
            out.append(f"**Result**: {_type(result.get('schema', {}))}\n")
        errors = [e.get("$ref", "").rsplit("/", 1)[-1] for e in method.get("errors", [])]
        if errors:
            out.append(
                "**Errors**: " + ", ".join(f"[`{e}`](#{_anchor(e)}-error)" for e in errors) + "\n"
            )
    return "\n".join(out)


def rpc_schemas(root: Path, arg: str | None) -> str:
    components = _openrpc(root).get("components", {})
    out = []
    for name, schema in components.get("schemas", {}).items():
        out.append(f"### `{name}` {{#{_anchor(name)}}}\n")
        if schema.get("description"):
            out.append(" ".join(schema["description"].split()) + "\n")
        properties = schema.get("properties")
        required = set(schema.get("required", []))
        if properties:
            out.append(
                _table(
                    ("Field", "Type", "Required"),
                    (
                        (f"`{key}`", _type(value), _yes(key in required))
                        for key, value in properties.items()
                    ),
                )
            )
        elif schema.get("enum") or schema.get("anyOf") or schema.get("oneOf"):
            out.append(f"One of: {_type(schema)}\n")
            discriminator = schema.get("discriminator")
            if discriminator:
                out.append(f"Tagged by the `{discriminator['propertyName']}` field.\n")
    for name, error in components.get("errors", {}).items():
        out.append(f"### `{name}` (error) {{#{_anchor(name)}-error}}\n")
        out.append(f"JSON-RPC error code `{error.get('code')}`: {error.get('message', '')}\n")
        if "data" in error:
            out.append(f"`data`: {_type(error['data'])}\n")
    return "\n".join(out)


# -- bindings ------------------------------------------------------------------------------------


def binding_fields(root: Path, service: str | None) -> str:
    import msgspec

    from artreg import binding

    structs = {
        "ecr": binding.EcrBinding,
        "gar": binding.GarBinding,
        "acr": binding.AcrBinding,
        "local": binding.LocalBinding,
    }
    if service not in structs:
        raise PluginError(f"binding-fields needs one of {sorted(structs)}, got {service!r}")
    info = msgspec.inspect.type_info(structs[service])
    assert isinstance(info, msgspec.inspect.StructType)
    rows = [("`service`", "yes", f'always `"{service}"`')]
    for field in info.fields:
        if field.required:
            required = "yes (the value may be `null`)" if field.name == "data_dir" else "yes"
        else:
            required = "no"
        rows.append((f"`{field.encode_name}`", required, f"`{field.name}`"))
    return _table(("JSON field", "Required", "Name in errors"), rows)


# -- command line --------------------------------------------------------------------------------


def cli(root: Path, arg: str | None) -> str:
    import typer

    cli_module = importlib.import_module("artreg.cli")
    group = typer.main.get_command(cli_module.app)
    out: list[str] = []

    def plain(text: str | None) -> str:
        return _escape((text or "").strip())

    def walk(command: Any, path: list[str]) -> None:
        # typer may carry its own copy of click: go by duck typing, not isinstance.
        ctx = command.context_class(command, info_name=" ".join(path))
        if path[1:]:
            out.append(f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`\n")
            usage = " ".join(command.collect_usage_pieces(ctx))
            out.append(f"```text\n{' '.join(path)} {usage}\n```\n")
            if command.help:
                out.append(plain(command.help) + "\n")
            rows = []
            for param in command.get_params(ctx):
                if param.param_type_name == "argument":
                    name = param.metavar or (param.name or "").upper()
                    required = "required" if param.required else "optional"
                    rows.append((f"`{name}`", f"argument ({required})", plain(param.help)))
                    continue
                record = param.get_help_record(ctx)
                if record is None or "--help" in param.opts:
                    continue
                rows.append((f"`{record[0]}`", "option", plain(record[1])))
            if rows:
                out.append(_table(("Name", "Kind", "Help"), rows))
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*path, name])

    walk(group, ["artreg"])
    return "\n".join(out)


def cli_exit_codes(root: Path, arg: str | None) -> str:
    from artreg.cli.errors import EXIT_CODES_EPILOG

    return f"```text\n{EXIT_CODES_EPILOG}\n```\n"


GENERATORS: dict[str, Callable[[Path, str | None], str]] = {
    "cli-exit-codes": cli_exit_codes,
    "error-codes": error_codes,
    "rpc-methods": rpc_methods,
    "rpc-schemas": rpc_schemas,
    "binding-fields": binding_fields,
    "cli": cli,
}
