"""Binding configuration: the ``service``-tagged JSON that says which registry a name refers to,
how it is read from ``ALIEN_{NAME}_BINDING`` environment variables, and how field values resolve.

A field may hold a value, a ``{"secretRef": {"name", "key"}}`` or any other JSON (an IaC
expression such as ``{"Fn::GetAtt": ...}``); only values resolve at run time
(docs-site: concepts/bindings.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec

# the environment-variable naming lives in a module without msgspec, for the credential helper's
# start-up; re-exported here, where it belongs
from artreg.binding_env import binding_env_var_name, binding_name_from_env_var, bindings_from_env
from artreg.errors import BindingConfigInvalid, BindingNotConfigured

__all__ = [
    "AcrBinding",
    "ArtifactRegistryBinding",
    "EcrBinding",
    "GarBinding",
    "LocalBinding",
    "binding_env_var_name",
    "binding_name_from_env_var",
    "bindings_from_env",
    "parse_binding",
    "read_binding",
    "resolve_value",
]

BindingValue = Annotated[
    Any,
    msgspec.Meta(
        description="A value, a {secretRef: {name, key}} or a template expression; "
        "only values resolve at run time"
    ),
]


class _Binding(msgspec.Struct, rename="camel", tag_field="service", frozen=True):
    pass


class EcrBinding(_Binding, tag="ecr", frozen=True):
    """AWS ECR: repositories are ``{repositoryPrefix}-{logical}``."""

    repository_prefix: BindingValue
    pull_role_arn: BindingValue = None
    push_role_arn: BindingValue = None


class AcrBinding(_Binding, tag="acr", frozen=True):
    """Azure Container Registry ``{registryName}.azurecr.io``."""

    registry_name: BindingValue
    resource_group_name: BindingValue
    repository_prefix: BindingValue = None


class GarBinding(_Binding, tag="gar", frozen=True):
    """GCP Artifact Registry: one Docker repository, images nested under it."""

    repository_name: BindingValue
    pull_service_account_email: BindingValue = None
    push_service_account_email: BindingValue = None


class LocalBinding(_Binding, tag="local", frozen=True):
    """Any OCI registry reached at ``registryUrl`` (``localhost:5000`` for plain HTTP, or a
    URL with its scheme). ``dataDir`` must be present but may be null; nothing uses it.
    ``username`` and ``password`` (together, or neither: anonymous) are the registry's
    credentials, used for the provider's own calls and returned by ``generate_credentials``."""

    registry_url: BindingValue
    data_dir: BindingValue
    username: BindingValue = None
    password: BindingValue = None


ArtifactRegistryBinding = EcrBinding | AcrBinding | GarBinding | LocalBinding

#: Service tag → the extra that provides it.
SERVICE_FEATURES: Final[dict[str, str]] = {
    "ecr": "aws",
    "gar": "gcp",
    "acr": "azure",
    "local": "local",
}


def read_binding(binding_name: str, env: Mapping[str, str] | None = None) -> str:
    """The raw JSON of a binding; BINDING_NOT_CONFIGURED when its variable is unset."""
    env = os.environ if env is None else env
    env_var = binding_env_var_name(binding_name)
    raw = env.get(env_var)
    if raw is None:
        raise BindingNotConfigured(binding_name=binding_name, env_var=env_var)
    return raw


def parse_binding(binding_name: str, raw: str | bytes) -> ArtifactRegistryBinding:
    """Parse binding JSON; BINDING_CONFIG_INVALID naming the problem when it does not fit."""
    env_var = binding_env_var_name(binding_name)
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BindingConfigInvalid(
            binding_name=binding_name, env_var=env_var, reason="Failed to parse binding JSON"
        ) from exc
    try:
        binding: ArtifactRegistryBinding = msgspec.convert(data, ArtifactRegistryBinding)
    except msgspec.ValidationError as exc:
        raise BindingConfigInvalid(
            binding_name=binding_name,
            env_var=env_var,
            reason=f"Failed to parse artifact registry binding: {exc}",
        ) from exc
    return binding


class _Unresolvable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _value(value: Any, field: str) -> Any:
    if isinstance(value, dict) and set(value) == {"secretRef"}:
        ref = value["secretRef"]
        if (
            isinstance(ref, dict)
            and isinstance(ref.get("name"), str)
            and isinstance(ref.get("key"), str)
        ):
            raise _Unresolvable(
                f"SecretRef not resolved for field '{field}' - "
                "this should have been resolved by the controller"
            )
    if isinstance(value, (dict, list, bool, int, float)):
        raise _Unresolvable(
            f"Template expressions not supported in runtime bindings for field '{field}'"
        )
    return value


def resolve_value(
    binding_name: str, field: str, value: Any, *, required: bool = True
) -> str | None:
    """Resolve one binding field (``field`` is its snake_case name) to a string.

    A null optional field resolves to None; a secretRef or an expression, or a null required
    field, raises BINDING_CONFIG_INVALID "Failed to extract {field} from binding" whose source
    carries alien's exact reason.
    """
    env_var = binding_env_var_name(binding_name)
    try:
        if value is None:
            if required:
                raise _Unresolvable(f"Field '{field}' is required")
            return None
        resolved = _value(value, field)
    except _Unresolvable as exc:
        inner = BindingConfigInvalid(binding_name=binding_name, env_var=env_var, reason=exc.reason)
        raise BindingConfigInvalid(
            binding_name=binding_name,
            env_var=env_var,
            reason=f"Failed to extract {field} from binding",
            hint=exc.reason,
        ) from inner
    assert isinstance(resolved, str)
    return resolved
