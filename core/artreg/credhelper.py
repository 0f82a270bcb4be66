"""``docker-credential-artreg``: Docker's credential-helper protocol, answered from artreg bindings.

Configure it for a registry host in Docker's ``~/.docker/config.json`` or in a containers
``auth.json`` (podman, skopeo, buildah)::

    {"credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "artreg"}}

Commands (the verb is the first argument; input on stdin, output on stdout):

``get``
    stdin holds a server URL (``https://host[:port]``, ``host[:port]`` or with a path). The helper
    looks through the bindings in the environment (``ALIEN_{NAME}_BINDING``; ``ARTREG_BINDING``
    first when set) for the one whose ``registry_endpoint()`` (or registry data endpoint, when
    configured apart) has that host and prints ``{"ServerURL", "Username", "Secret"}``:

    - ACR: ``Username`` ``<token>`` and, as ``Secret``, the registry's *refresh token* from
      ``/oauth2/exchange`` — what ``docker-credential-acr-env`` answers. Docker, podman,
      containerd, skopeo and artreg spend it at the registry's ``/oauth2/token`` for an access
      token scoped to each repository they touch, so no repository is named here and it is good
      for every repository the identity may use, until its ``exp``.
    - every other cloud: the binding's ``generate_credentials`` (e.g. ECR's ``AWS`` and the
      decoded token, GAR's ``oauth2accesstoken`` and an access token).

    A host no binding serves, or a binding whose registry needs no credentials (Local),
    answers Docker's standard "credentials not found in native keychain" with exit 1, which
    every client treats as "pull anonymously".
``list``
    ``{"host": "username"}`` for every binding with a registry endpoint (the username is known
    once credentials were cached, else empty).
``store``, ``erase``
    Refused (exit 1, message on stderr and stdout): credentials come from bindings, so there is
    nothing to store; ``docker login`` is not needed for these hosts.
``version``
    Prints the artreg version.

Credentials asked for are push-pull (pull when the binding cannot give push-pull, e.g. only a
pull role is configured); ``ARTREG_CREDHELPER_PERMISSIONS=pull`` asks for pull only. The
repository named in the request is the binding's upstream repository prefix, or
``ARTREG_CREDHELPER_REPOSITORY`` when set. Neither applies to ACR, whose refresh token carries
the identity's own permissions on every repository.

Caching: each call is a fresh process, so credentials are cached on disk until near expiry, in
``$ARTREG_CACHE_DIR`` or ``$XDG_CACHE_HOME/artreg`` or ``~/.cache/artreg``, under
``credhelper/``: the directory is created 0700 and every file 0600 (owned by the user, written
atomically; a file readable by others is ignored). An entry is used until 80 % of its lifetime
has passed and never within 60 s of its expiry; credentials without an expiry are kept 300 s;
anonymous ones are not cached. The key covers the binding name, its JSON, the host, the
permissions and the cloud configuration variables, so changing any of them misses the cache.
``ARTREG_CREDHELPER_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

# Docker runs the helper on every pull: an answer from the cache must start fast, so the loader,
# the providers, asyncio and msgspec's wire types are imported only on a miss.
from artreg.binding_env import bindings_from_env
from artreg.hosts import binding_order, bindings_for_hosts, normalize_host

if TYPE_CHECKING:
    from artreg.registry import ArtifactRegistry
    from artreg.types import ArtifactRegistryCredentials, ArtifactRegistryPermissions

__all__ = [
    "NOT_FOUND_MESSAGE",
    "CachedCredentials",
    "CredentialCache",
    "HelperError",
    "IdentityTokenSource",
    "cache_dir",
    "get",
    "list_hosts",
    "main",
    "normalize_host",
]

#: Docker's standard answer when a helper has no credentials for a server.
NOT_FOUND_MESSAGE: Final = "credentials not found in native keychain"
#: Docker's username convention for an identity (bearer) token.
IDENTITY_TOKEN_USERNAME: Final = "<token>"

_CONFIG_PREFIXES: Final = ("AWS_", "GOOGLE_", "GCP_", "AZURE_", "ARTREG_", "SSL_", "REQUESTS_")
_CACHE_LIFETIME_SHARE: Final = 0.8
_MIN_REMAINING: Final = 60.0
_NO_EXPIRY_TTL: Final = 300.0
#: ArtifactRegistryPermissions' wire values, the first the default.
_PERMISSIONS: Final = ("push-pull", "pull")
#: RegistryAuthMethod.BEARER's wire value.
_BEARER: Final = "bearer"


class HelperError(Exception):
    """A failure reported to the caller (one line, exit 1)."""


@runtime_checkable
class IdentityTokenSource(Protocol):
    """A registry whose helper answer is an identity (refresh) token the client spends itself
    (ACR), rather than credentials for one repository."""

    async def identity_token(self) -> ArtifactRegistryCredentials: ...


# -- the disk cache ------------------------------------------------------------------------------------


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where cached credentials live (see the module docstring)."""
    env = os.environ if env is None else env
    base = env.get("ARTREG_CACHE_DIR")
    if base:
        return Path(base) / "credhelper"
    xdg = env.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "artreg" / "credhelper"


@dataclass(frozen=True)
class CachedCredentials:
    """One cache entry: the credentials and when they stop being used."""

    host: str
    auth_method: str
    username: str
    secret: str
    use_until: float


class CredentialCache:
    """Credentials on disk, one 0600 file per key, in a 0700 directory."""

    def __init__(self, directory: Path, *, clock: Any = time.time) -> None:
        self.directory = directory
        self.clock = clock

    def _path(self, key: str) -> Path:
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, key: str) -> CachedCredentials | None:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                info = os.fstat(fh.fileno())
                if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) or info.st_uid != os.getuid():
                    return None
                data = json.loads(fh.read())
            entry = CachedCredentials(
                host=str(data["host"]),
                auth_method=str(data["authMethod"]),
                username=str(data["username"]),
                secret=str(data["secret"]),
                use_until=float(data["useUntil"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if entry.use_until <= self.clock():
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return entry

    def put(self, key: str, entry: CachedCredentials) -> None:
        """Write an entry atomically; failures to cache are ignored (the answer still goes out)."""
        with contextlib.suppress(OSError):
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.directory.stat()
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                os.chmod(self.directory, 0o700)
            payload = json.dumps(
                {
                    "host": entry.host,
                    "authMethod": entry.auth_method,
                    "username": entry.username,
                    "secret": entry.secret,
                    "useUntil": entry.use_until,
                }
            ).encode()
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._path(key))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def username_for(self, host: str) -> str:
        """The username of any fresh entry for ``host`` (for ``list``)."""
        with contextlib.suppress(OSError):
            for path in sorted(self.directory.glob("*.json")):
                try:
                    data = json.loads(path.read_bytes())
                    if data.get("host") == host and float(data["useUntil"]) > self.clock():
                        return str(data["username"])
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue
        return ""


def use_until(creds: ArtifactRegistryCredentials, now: float) -> float:
    """When cached credentials stop being used: 80 % of their remaining lifetime, never
    closer than 60 s to expiry; 300 s when they have no expiry."""
    from artreg.types import parse_timestamp

    if creds.expires_at is None:
        return now + _NO_EXPIRY_TTL
    try:
        expires = parse_timestamp(creds.expires_at).timestamp()
    except ValueError:
        return now
    remaining = expires - now
    return now + min(remaining * _CACHE_LIFETIME_SHARE, remaining - _MIN_REMAINING)


# -- bindings ------------------------------------------------------------------------------------------


def _binding_order(env: Mapping[str, str]) -> list[str]:
    return binding_order(env, env.get("ARTREG_BINDING"))


def _config_fingerprint(env: Mapping[str, str]) -> str:
    items = sorted((k, v) for k, v in env.items() if k.startswith(_CONFIG_PREFIXES))
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def _permissions(env: Mapping[str, str]) -> str:
    """The permissions asked for: ``push-pull`` (default) or ``pull``."""
    value = env.get("ARTREG_CREDHELPER_PERMISSIONS", "").strip().lower()
    if not value:
        return _PERMISSIONS[0]
    if value not in _PERMISSIONS:
        raise HelperError(
            f"ARTREG_CREDHELPER_PERMISSIONS must be 'pull' or 'push-pull', not {value!r}"
        )
    return value


async def _generate(
    registry: ArtifactRegistry, repo_id: str, permissions: ArtifactRegistryPermissions
) -> ArtifactRegistryCredentials:
    from artreg.errors import BindingConfigInvalid, OperationNotSupported
    from artreg.types import ArtifactRegistryPermissions

    try:
        if isinstance(registry, IdentityTokenSource):
            return await registry.identity_token()
        return await registry.generate_credentials(repo_id, permissions)
    except (BindingConfigInvalid, OperationNotSupported):
        if permissions is ArtifactRegistryPermissions.PULL:
            raise
        # e.g. only a pull role / pull service account is configured
        return await registry.generate_credentials(repo_id, ArtifactRegistryPermissions.PULL)
    finally:
        with contextlib.suppress(Exception):
            await registry.aclose()


def get(
    server_url: str, env: Mapping[str, str] | None = None, *, cache: CredentialCache | None = None
) -> dict[str, str] | None:
    """The helper's answer for ``server_url``, or None when it has no credentials for it."""
    env = os.environ if env is None else env
    host = normalize_host(server_url)
    if not host:
        raise HelperError("no server URL on stdin")
    if cache is None and env.get("ARTREG_CREDHELPER_CACHE", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    ):
        cache = CredentialCache(cache_dir(env))
    permissions = _permissions(env)
    # the cache key is checked before any binding is loaded: a hit costs no cloud call
    raw_bindings = bindings_from_env(env)
    fingerprint = _config_fingerprint(env)
    for name in _binding_order(env):
        key = json.dumps([name, raw_bindings[name], host, str(permissions), fingerprint])
        entry = cache.get(key) if cache is not None else None
        if entry is not None:
            return _answer(server_url, entry.auth_method, entry.username, entry.secret)
    found = bindings_for_hosts([host], env, preferred=env.get("ARTREG_BINDING"))
    match = found.get(host)
    if match is None:
        if found.failures:
            print(
                "docker-credential-artreg: bindings that failed to load: "
                + ", ".join(found.failures),
                file=sys.stderr,
            )
        return None
    repo_id = env.get("ARTREG_CREDHELPER_REPOSITORY") or match.registry.upstream_repository_prefix()
    import asyncio

    from artreg.types import ArtifactRegistryPermissions

    creds = asyncio.run(
        _generate(match.registry, repo_id, ArtifactRegistryPermissions(permissions))
    )
    if not creds.username and not creds.password:
        return None  # the registry is anonymous (Local): let the client pull without auth
    if cache is not None:
        key = json.dumps(
            [match.name, raw_bindings[match.name], host, str(permissions), fingerprint]
        )
        now = cache.clock()
        cache.put(
            key,
            CachedCredentials(
                host=host,
                auth_method=str(creds.auth_method),
                username=creds.username,
                secret=creds.password,
                use_until=use_until(creds, now),
            ),
        )
    return _answer(server_url, str(creds.auth_method), creds.username, creds.password)


def _answer(server_url: str, auth_method: str, username: str, secret: str) -> dict[str, str]:
    if auth_method == _BEARER:
        username = IDENTITY_TOKEN_USERNAME
    return {"ServerURL": server_url.strip(), "Username": username, "Secret": secret}


def list_hosts(
    env: Mapping[str, str] | None = None, *, cache: CredentialCache | None = None
) -> dict[str, str]:
    """``{host: username}`` for every binding that loads and has a registry endpoint."""
    env = os.environ if env is None else env
    from artreg.errors import ArtregError
    from artreg.loader import load_artifact_registry

    cache = cache or CredentialCache(cache_dir(env))
    result: dict[str, str] = {}
    for name in _binding_order(env):
        try:
            endpoint = load_artifact_registry(name, env).registry_endpoint()
        except ArtregError:
            continue
        host = normalize_host(endpoint) if endpoint else ""
        if host and host not in result:
            result[host] = cache.username_for(host)
    return result


# -- the protocol --------------------------------------------------------------------------------------

_USAGE: Final = "usage: docker-credential-artreg get|list|store|erase|version"

_HELP: Final = """\
usage: docker-credential-artreg get|list|store|erase|version

A Docker credential helper that answers from artreg bindings (ALIEN_{NAME}_BINDING variables in
its environment; ARTREG_BINDING is tried first). Configure it per registry host in Docker's
~/.docker/config.json or a containers auth.json (podman, skopeo, buildah):

    {"credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "artreg"}}

  get      read a server URL on stdin; print {"ServerURL","Username","Secret"} from the binding
           whose registry endpoint has that host (generate_credentials, push-pull, else pull).
           ACR answers Username "<token>" and its refresh token, which the client spends at
           the registry for each repository (as docker-credential-acr-env does). No binding, or
           an anonymous registry (Local): "credentials not found in native keychain", exit 1.
  list     print {"host": "username"} for every binding's registry.
  store    refused: credentials come from bindings; `docker login` is not needed.
  erase    refused, likewise.

Environment: ARTREG_CREDHELPER_PERMISSIONS=pull|push-pull, ARTREG_CREDHELPER_REPOSITORY (the
repository credentials are asked for; default: the binding's prefix; neither is used for ACR),
ARTREG_CREDHELPER_CACHE=0 (no cache), ARTREG_CACHE_DIR. Credentials are cached until 80 % of their lifetime (never within
60 s of expiry; 300 s without one) in $XDG_CACHE_HOME/artreg/credhelper (directory 0700, files
0600).
"""


def _refuse(verb: str, stdout: IO[str], stderr: IO[str]) -> int:
    message = (
        f"docker-credential-artreg: '{verb}' is not supported: credentials come from artreg "
        "bindings (generate_credentials), so there is nothing to store or erase; "
        "`docker login` is not needed for registries the helper serves"
    )
    print(message, file=stderr)
    print(message, file=stdout)
    return 1


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run one helper command; returns (and as a script exits with) the status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    code = _main(argv, stdin, stdout, stderr)
    stdout.flush()
    return code


def _main(argv: list[str], stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    if len(argv) == 1 and argv[0] in ("-h", "--help", "help"):
        stdout.write(_HELP)
        return 0
    if len(argv) != 1:
        print(_USAGE, file=stderr)
        return 2
    verb = argv[0]
    try:
        if verb == "get":
            answer = get(stdin.read())
            if answer is None:
                print(NOT_FOUND_MESSAGE, file=stdout)
                return 1
            stdout.write(json.dumps(answer) + "\n")
            return 0
        if verb == "list":
            stdout.write(json.dumps(list_hosts()) + "\n")
            return 0
        if verb in ("store", "erase"):
            stdin.read()
            return _refuse(verb, stdout, stderr)
        if verb == "version":
            from artreg import __version__

            print(f"docker-credential-artreg (artreg) {__version__}", file=stdout)
            return 0
        print(f"docker-credential-artreg: unknown command {verb!r}\n{_USAGE}", file=stderr)
        return 2
    except HelperError as exc:
        line = f"docker-credential-artreg: {exc}"
    except Exception as exc:
        # the command line's rendering (one line, secrets redacted), imported only on failure
        from artreg.cli.errors import format_error

        line = "docker-credential-artreg: " + format_error(exc)
    # the client relays stdout; people read stderr
    print(line, file=stdout)
    print(line, file=stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
