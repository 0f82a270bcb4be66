"""What the ECR provider reads from the environment, and where its region lives.

:class:`AwsConfig` holds the documented variables (and nothing else: no AWS profile, no config
file). :class:`Partition` is the region's AWS partition — the ARN prefix (``aws``, ``aws-cn``,
``aws-us-gov``, ``aws-eusc`` …), the DNS suffix and whether FIPS endpoints exist — taken from
botocore's own ``partitions.json``, the data its endpoint rules use, so a new partition needs no
change here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.loaders import create_loader

from artreg.errors import ClientConfigInvalid

__all__ = ["AwsConfig", "Partition", "partition_named", "partition_of", "role_arn_problem"]

#: The partition a region in no partition's list or pattern belongs to (as botocore's rules do).
_DEFAULT_PARTITION: Final = "aws"
_TRUE: Final = ("true", "1", "yes")
_FALSE: Final = ("false", "0", "no")


@dataclass(frozen=True)
class Partition:
    """An AWS partition: ``name`` is the ARN prefix, ``dns_suffix`` the hosts' domain."""

    name: str
    dns_suffix: str
    supports_fips: bool
    regions: frozenset[str]
    region_pattern: str

    def arn(self, service: str, region: str, account: str, resource: str) -> str:
        """``arn:{partition}:{service}:{region}:{account}:{resource}``."""
        return f"arn:{self.name}:{service}:{region}:{account}:{resource}"

    def has_region(self, region: str) -> bool:
        """Whether ``region`` is one of this partition's (listed, or matching its pattern)."""
        return region in self.regions or re.fullmatch(self.region_pattern, region) is not None


@functools.cache
def _partitions() -> tuple[Partition, ...]:
    data: Any = create_loader().load_data("partitions")
    result = []
    for entry in data["partitions"]:
        outputs = entry.get("outputs", {})
        result.append(
            Partition(
                name=str(entry["id"]),
                dns_suffix=str(outputs["dnsSuffix"]),
                supports_fips=bool(outputs.get("supportsFIPS", False)),
                regions=frozenset(entry.get("regions", {})),
                region_pattern=str(entry.get("regionRegex", "^$")),
            )
        )
    return tuple(result)


def partition_of(region: str) -> Partition | None:
    """The partition listing ``region``, else the first whose pattern it matches, else None."""
    partitions = _partitions()
    for partition in partitions:
        if region in partition.regions:
            return partition
    for partition in partitions:
        if re.fullmatch(partition.region_pattern, region):
            return partition
    return None


def partition_named(name: str) -> Partition | None:
    """The partition whose ARN prefix is ``name``."""
    return next((p for p in _partitions() if p.name == name), None)


def role_arn_problem(arn: str, partition: Partition) -> str | None:
    """Why ``arn`` is not an IAM role ARN STS could assume for a registry in ``partition``
    (None when it is one)."""
    match = re.fullmatch(r"arn:([a-z0-9-]+):iam::\d{12}:role/[\w+=,.@/-]+", arn)
    if match is None:
        return "is not an IAM role ARN (arn:{partition}:iam::{account}:role/{name})"
    if match.group(1) != partition.name:
        return f"is in partition {match.group(1)!r}, not in the registry's {partition.name!r}"
    return None


def _invalid(message: str) -> ClientConfigInvalid:
    return ClientConfigInvalid(platform="aws", message=f"AWS config not available: {message}")


@dataclass(frozen=True)
class AwsConfig:
    """AWS client configuration. Secrets are left out of ``repr()``."""

    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    account_id: str | None = None
    ecr_endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    iam_endpoint_url: str | None = None
    registry_endpoint: str | None = None
    max_attempts: int | None = None
    retry_mode: str = "standard"
    use_fips: bool = False
    ca_bundle: str | None = None

    @property
    def partition(self) -> Partition:
        """The region's partition (``aws`` for a region no partition names, as botocore does)."""
        found = partition_of(self.region) or partition_named(_DEFAULT_PARTITION)
        assert found is not None, "botocore's partition data has no 'aws' partition"
        return found

    def registry_host(self, account_id: str) -> str:
        """``{account}.dkr.ecr.{region}.{dns suffix}``; ``dkr.ecr-fips`` with FIPS endpoints."""
        service = "ecr-fips" if self.use_fips else "ecr"
        return f"{account_id}.dkr.{service}.{self.region}.{self.partition.dns_suffix}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AwsConfig:
        """Read the configuration; CLIENT_CONFIG_INVALID naming what is missing or malformed."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        region = get("AWS_REGION") or get("AWS_DEFAULT_REGION")
        key_id = get("AWS_ACCESS_KEY_ID")
        secret = get("AWS_SECRET_ACCESS_KEY")
        missing = [
            name
            for name, value in (
                ("AWS_REGION (or AWS_DEFAULT_REGION)", region),
                ("AWS_ACCESS_KEY_ID", key_id),
                ("AWS_SECRET_ACCESS_KEY", secret),
            )
            if value is None
        ]
        if missing or region is None or key_id is None or secret is None:
            raise _invalid(f"{', '.join(missing)} not set")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", region):
            raise _invalid(f"AWS_REGION {region!r} is not a region name")
        account = get("AWS_ACCOUNT_ID")
        if account is not None and not (len(account) == 12 and account.isdigit()):
            raise _invalid("AWS_ACCOUNT_ID is not 12 digits")
        retry_mode = get("AWS_RETRY_MODE") or "standard"
        if retry_mode not in ("legacy", "standard", "adaptive"):
            raise _invalid("AWS_RETRY_MODE is not legacy, standard or adaptive")
        fips_text = (get("AWS_USE_FIPS_ENDPOINT") or "false").lower()
        if fips_text not in _TRUE + _FALSE:
            raise _invalid("AWS_USE_FIPS_ENDPOINT is not true or false")
        endpoint = get("AWS_ENDPOINT_URL")
        config = cls(
            region=region,
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=get("AWS_SESSION_TOKEN"),
            account_id=account,
            ecr_endpoint_url=get("AWS_ENDPOINT_URL_ECR") or endpoint,
            sts_endpoint_url=get("AWS_ENDPOINT_URL_STS") or endpoint,
            iam_endpoint_url=get("AWS_ENDPOINT_URL_IAM") or endpoint,
            registry_endpoint=(get("ARTREG_ECR_REGISTRY_ENDPOINT") or "").rstrip("/") or None,
            max_attempts=_max_attempts(get("AWS_MAX_ATTEMPTS")),
            retry_mode=retry_mode,
            use_fips=fips_text in _TRUE,
            ca_bundle=get("AWS_CA_BUNDLE"),
        )
        if config.use_fips and not config.partition.supports_fips:
            raise _invalid(
                f"AWS_USE_FIPS_ENDPOINT is set, but partition {config.partition.name!r} "
                f"of {region} has no FIPS endpoints"
            )
        return config


def _max_attempts(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        attempts = int(text)
    except ValueError:
        attempts = -1
    if attempts < 1:
        raise _invalid("AWS_MAX_ATTEMPTS is not a positive integer")
    return attempts
