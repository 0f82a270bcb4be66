"""botocore clients for the ECR provider, and the role sessions behind them.

One botocore session serves the process (service models load once). It is built so that it reads
nothing artreg did not ask for: no environment variable (``AWS_PROFILE``, ``AWS_CONFIG_FILE``,
``AWS_ENDPOINT_URL_*`` …) and no shared config or credentials file. Region, endpoints,
credentials, retries, FIPS and the CA bundle all come from :class:`~artreg.providers.ecr_config.
AwsConfig`.

:class:`AwsClients` keeps one client per (service, role, session purpose, region), rebuilt when
its role credentials come near expiry, and assumes roles with STS ``AssumeRole``. A requested
session length is clamped to what STS allows: at least 900 s, at most the role's
``MaxSessionDuration`` (learnt from IAM ``GetRole`` when STS refuses a longer one; 3600 s when it
cannot be read) and at most 3600 s when the caller is itself a role session (role chaining).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import botocore.session
from botocore.config import Config
from botocore.configprovider import (
    BOTOCORE_DEFAUT_SESSION_VARIABLES,
    ConfigChainFactory,
    ConfigValueStore,
)
from botocore.exceptions import ParamValidationError

from artreg.binding import binding_env_var_name
from artreg.errors import ArtregError, BindingConfigInvalid, InvalidInput
from artreg.providers.aws_errors import error_code, error_message, map_aws_error
from artreg.providers.ecr_config import AwsConfig

__all__ = [
    "CHAINED_SESSION_SECONDS",
    "MAX_SESSION_SECONDS",
    "MIN_SESSION_SECONDS",
    "AwsClients",
    "Credentials",
    "close_client",
]

log = logging.getLogger(__name__)

#: STS AssumeRole ``DurationSeconds`` bounds (the ``sts`` service model: 900 to 43200).
MIN_SESSION_SECONDS: Final = 900
MAX_SESSION_SECONDS: Final = 43200
#: A role's default ``MaxSessionDuration``, and the limit under role chaining.
CHAINED_SESSION_SECONDS: Final = 3600


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires: datetime | None = None


@dataclass
class _Cached:
    client: Any
    expires: datetime | None


_SESSION_LOCK: Final = threading.Lock()
_SESSION: list[botocore.session.Session] = []


def _botocore_session() -> botocore.session.Session:
    """The process's botocore session, configured from nothing but defaults; callers hold
    ``_SESSION_LOCK``."""
    if not _SESSION:
        session = botocore.session.Session()
        # botocore's own chains (instance value, environment, config file, default), with an
        # empty environment and no files: AWS_PROFILE naming a missing profile, or a stray
        # AWS_CONFIG_FILE, cannot reach artreg's clients.
        chains = ConfigChainFactory(session=session, environ={})
        mapping = {
            name: chains.create_config_chain(
                instance_name=name,
                env_var_names=spec[1],
                config_property_names=spec[0],
                default=spec[2],
                conversion_func=spec[3],
            )
            for name, spec in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()
        }
        session.register_component("config_store", ConfigValueStore(mapping=mapping))
        session.set_config_variable("config_file", os.devnull)
        session.set_config_variable("credentials_file", os.devnull)
        session.set_config_variable("ignore_configured_endpoint_urls", True)
        _SESSION.append(session)
    return _SESSION[0]


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.debug("closing a boto client failed", exc_info=True)


class AwsClients:
    """The provider's botocore clients and role sessions (thread-safe; calls block)."""

    def __init__(
        self,
        config: AwsConfig,
        *,
        clock: Callable[[], datetime],
        refresh_margin: timedelta,
        binding_name: str = "",
        role_fields: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.refresh_margin = refresh_margin
        self.binding_name = binding_name
        #: role ARN -> the binding field naming it (for errors about the role itself)
        self.role_fields = dict(role_fields or {})
        self._clients: dict[tuple[str, str | None, str, str], _Cached] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str | None, str, str], threading.Lock] = {}
        self._identity: dict[str, str] | None = None
        self._role_limits: dict[str, int] = {}

    # -- clients -----------------------------------------------------------------------------

    def _botocore_config(self) -> Config:
        retries: dict[str, Any] = {"mode": self.config.retry_mode}
        if self.config.max_attempts is not None:
            retries["total_max_attempts"] = self.config.max_attempts
        return Config(
            retries=retries,  # type: ignore[arg-type]
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra="artreg",
            use_fips_endpoint=self.config.use_fips,
        )

    def new_client(self, service: str, region: str, credentials: Credentials) -> Any:
        """A new client of ``service`` in ``region`` signing with ``credentials``."""
        endpoint = {
            "ecr": self.config.ecr_endpoint_url,
            "sts": self.config.sts_endpoint_url,
            "iam": self.config.iam_endpoint_url,
        }[service]
        with _SESSION_LOCK:
            return _botocore_session().create_client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                verify=self.config.ca_bundle,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                config=self._botocore_config(),
            )

    def base_credentials(self) -> Credentials:
        return Credentials(
            self.config.access_key_id, self.config.secret_access_key, self.config.session_token
        )

    def base(self, service: str, region: str) -> Any:
        """The cached client of ``service`` with the environment's credentials."""
        return self.cached(service, None, "base", region)

    def cached(self, service: str, role_arn: str | None, purpose: str, region: str) -> Any:
        """The cached client for a role (None: the base credentials), session purpose and region;
        rebuilt when its role credentials are within the refresh margin of expiry."""
        key = (service, role_arn, purpose, region)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None and self._fresh(cached.expires):
                return cached.client
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                cached = self._clients.get(key)
                if cached is not None and self._fresh(cached.expires):
                    return cached.client
            if role_arn is None:
                credentials = self.base_credentials()
            else:
                credentials = self.assume_role(role_arn, purpose, None)
            client = self.new_client(service, region, credentials)
            with self._lock:
                old = self._clients.get(key)
                self._clients[key] = _Cached(client, credentials.expires)
            if old is not None:
                close_client(old.client)
            return client

    def _fresh(self, expires: datetime | None) -> bool:
        return expires is None or self.clock() < expires - self.refresh_margin

    def close_all(self) -> None:
        with self._lock:
            clients = [c.client for c in self._clients.values()]
            self._clients.clear()
        for client in clients:
            close_client(client)

    # -- identity ----------------------------------------------------------------------------

    def caller_identity(self) -> dict[str, str]:
        """STS GetCallerIdentity of the base credentials (asked once): ``Account`` and ``Arn``."""
        if self._identity is None:
            sts = self.base("sts", self.config.region)
            try:
                answer = sts.get_caller_identity()
            except Exception as exc:
                raise map_aws_error(
                    exc,
                    operation_context="Failed to determine the AWS account ID",
                    resource_type="AWS account",
                    resource_name="*",
                ) from exc
            self._identity = {"Account": str(answer["Account"]), "Arn": str(answer["Arn"])}
        return self._identity

    def caller_is_role_session(self) -> bool:
        """Whether the base credentials are themselves a role session (``assumed-role``), which
        limits the sessions they may start to one hour (role chaining)."""
        arn = self.caller_identity()["Arn"]
        return arn.split(":")[2:3] == ["sts"] and ":assumed-role/" in arn

    # -- role sessions -----------------------------------------------------------------------

    def session_duration(self, role_arn: str, ttl_seconds: int | None) -> int | None:
        """The ``DurationSeconds`` to ask for a ttl: None without a ttl (STS's default, 1 h);
        else the ttl clamped to [900, the role's limit]."""
        if ttl_seconds is None:
            return None
        if ttl_seconds < 1:
            raise InvalidInput(
                operation_context="Failed to generate ECR credentials",
                details=f"ttl_seconds must be positive, got {ttl_seconds}",
                field_name="ttl_seconds",
            )
        duration = min(max(ttl_seconds, MIN_SESSION_SECONDS), MAX_SESSION_SECONDS)
        if duration > CHAINED_SESSION_SECONDS:
            duration = min(duration, self._role_limits.get(role_arn, MAX_SESSION_SECONDS))
        if duration > CHAINED_SESSION_SECONDS and self.caller_is_role_session():
            duration = CHAINED_SESSION_SECONDS
        return duration

    def assume_role(self, role_arn: str, session_name: str, duration: int | None) -> Credentials:
        """STS AssumeRole with the base credentials (DurationSeconds only when given). A duration
        above the role's limit is retried once at the limit."""
        try:
            return self._assume_role_once(role_arn, session_name, duration)
        except _DurationRefused as refused:
            limit = self._learn_limit(role_arn, refused.chained)
            if duration is None or limit >= duration:
                raise refused.error from refused.error.__cause__
            return self._assume_role_once(role_arn, session_name, limit)

    def _assume_role_once(
        self, role_arn: str, session_name: str, duration: int | None
    ) -> Credentials:
        sts = self.base("sts", self.config.region)
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
        if duration is not None:
            params["DurationSeconds"] = duration
        try:
            answer = sts.assume_role(**params)
        except Exception as exc:
            raise self._assume_role_error(exc, role_arn, session_name, duration) from exc
        creds = answer["Credentials"]
        return Credentials(
            creds["AccessKeyId"],
            creds["SecretAccessKey"],
            creds["SessionToken"],
            creds["Expiration"],
        )

    def _assume_role_error(
        self, exc: Exception, role_arn: str, session_name: str, duration: int | None
    ) -> Exception:
        """The error naming the real cause of a refused AssumeRole."""
        context = f"Failed to assume role for session '{session_name}'"
        message = error_message(exc)
        lowered = message.lower()
        invalid = error_code(exc) == "ValidationError" or isinstance(exc, ParamValidationError)
        if invalid and "durationseconds" in lowered:
            error = InvalidInput(
                operation_context=context,
                details=f"STS refused a session of {duration} s for {role_arn}: {message}",
                field_name="ttl_seconds",
            )
            error.__cause__ = exc
            if duration is not None and duration > CHAINED_SESSION_SECONDS:
                return _DurationRefused(error, chained="role chaining" in lowered)
            return error
        if invalid and ("rolearn" in lowered or "invalid arn" in lowered):
            field_name = self.role_fields.get(role_arn, "roleArn")
            return BindingConfigInvalid(
                binding_name=self.binding_name,
                env_var=binding_env_var_name(self.binding_name) if self.binding_name else "",
                reason=f"{field_name} {role_arn!r} is not a role STS can assume: {message}",
            )
        return map_aws_error(
            exc, operation_context=context, resource_type="IAM role", resource_name=role_arn
        )

    def _learn_limit(self, role_arn: str, chained: bool) -> int:
        """The longest session ``role_arn`` allows this caller, after STS refused a longer one:
        3600 s under role chaining, else the role's ``MaxSessionDuration`` from IAM ``GetRole``
        (3600 s, the IAM default, when it cannot be read)."""
        limit = CHAINED_SESSION_SECONDS
        if not chained:
            role_name = role_arn.rsplit("/", 1)[-1]
            try:
                iam = self.base("iam", self.config.region)
                answer = iam.get_role(RoleName=role_name)
                limit = int(answer["Role"].get("MaxSessionDuration") or CHAINED_SESSION_SECONDS)
            except Exception as exc:
                log.info(
                    "IAM GetRole of %s failed (%s); assuming the default 3600 s session limit",
                    role_arn,
                    error_code(exc) or type(exc).__name__,
                )
        self._role_limits[role_arn] = limit
        return limit


class _DurationRefused(Exception):
    """STS refused a DurationSeconds above one hour (internal: retried at the role's limit)."""

    def __init__(self, error: ArtregError, *, chained: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.chained = chained
