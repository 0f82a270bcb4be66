"""Binding JSON, env-var naming, value resolution and load_artifact_registry (docs-site: concepts/bindings.md)."""

from __future__ import annotations

import json

import pytest

import artreg
from artreg import binding as b
from artreg.errors import ArtregError, BindingConfigInvalid, BindingNotConfigured, FeatureNotEnabled

LOCAL = {"service": "local", "registryUrl": "localhost:5000", "dataDir": None}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    artreg.clear_cache()


@pytest.mark.parametrize(
    ("name", "var"),
    [
        ("artifact-registry", "ALIEN_ARTIFACT_REGISTRY_BINDING"),
        ("artifacts", "ALIEN_ARTIFACTS_BINDING"),
        ("my-reg-2", "ALIEN_MY_REG_2_BINDING"),
    ],
)
def test_env_var_names_both_ways(name: str, var: str) -> None:
    assert b.binding_env_var_name(name) == var
    assert b.binding_name_from_env_var(var) == name


def test_bindings_from_env_lists_only_binding_variables() -> None:
    env = {
        "ALIEN_A_B_BINDING": "{}",
        "ALIEN_DEPLOYMENT_TYPE": "aws",
        "PATH": "/bin",
        "ALIEN__BINDING": "x",
    }
    assert b.bindings_from_env(env) == {"a-b": "{}"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"service": "ecr", "repositoryPrefix": "p"}, b.EcrBinding(repository_prefix="p")),
        (
            {
                "service": "ecr",
                "repositoryPrefix": "p",
                "pullRoleArn": "arn:pull",
                "pushRoleArn": "arn:push",
            },
            b.EcrBinding(repository_prefix="p", pull_role_arn="arn:pull", push_role_arn="arn:push"),
        ),
        (
            {"service": "acr", "registryName": "r", "resourceGroupName": "g"},
            b.AcrBinding(registry_name="r", resource_group_name="g"),
        ),
        (
            {"service": "gar", "repositoryName": "alien-test", "pullServiceAccountEmail": "a@b"},
            b.GarBinding(repository_name="alien-test", pull_service_account_email="a@b"),
        ),
        (LOCAL, b.LocalBinding(registry_url="localhost:5000", data_dir=None)),
    ],
)
def test_binding_json_per_service(
    raw: dict[str, object], expected: b.ArtifactRegistryBinding
) -> None:
    assert b.parse_binding("x", json.dumps(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        ("not json", "Failed to parse binding JSON"),
        ('{"service":"s3","bucket":"x"}', "Failed to parse artifact registry binding"),
        ('{"service":"ecr"}', "repositoryPrefix"),
        ('{"service":"acr","registryName":"r"}', "resourceGroupName"),
        ('{"service":"local","registryUrl":"localhost:5000"}', "dataDir"),
        ('{"registryUrl":"localhost:5000","dataDir":null}', "service"),
    ],
)
def test_bad_binding_json_is_binding_config_invalid(raw: str, mentions: str) -> None:
    with pytest.raises(BindingConfigInvalid) as info:
        b.parse_binding("x", raw)
    assert mentions in info.value.message
    assert info.value.context["env_var"] == "ALIEN_X_BINDING"


def test_resolve_value_accepts_values_and_null_optionals() -> None:
    assert b.resolve_value("x", "repository_prefix", "p") == "p"
    assert b.resolve_value("x", "pull_role_arn", None, required=False) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (
            {"secretRef": {"name": "s", "key": "k"}},
            "SecretRef not resolved for field 'repository_prefix' - this should have been resolved by the controller",
        ),
        (
            {"Fn::GetAtt": ["Repo", "Name"]},
            "Template expressions not supported in runtime bindings for field 'repository_prefix'",
        ),
        (
            {"ref": "x"},
            "Template expressions not supported in runtime bindings for field 'repository_prefix'",
        ),
        (
            42,
            "Template expressions not supported in runtime bindings for field 'repository_prefix'",
        ),
    ],
)
def test_unresolvable_values_fail_with_alien_reasons(value: object, reason: str) -> None:
    with pytest.raises(BindingConfigInvalid) as info:
        b.resolve_value("x", "repository_prefix", value)
    err = info.value
    assert err.context["reason"] == "Failed to extract repository_prefix from binding"
    assert isinstance(err.source, BindingConfigInvalid)
    assert err.source.context["reason"] == reason
    assert err.to_dict()["source"]["context"]["reason"] == reason


def test_load_missing_env_var_is_binding_not_configured() -> None:
    with pytest.raises(BindingNotConfigured) as info:
        artreg.load_artifact_registry("artifact-registry", env={})
    assert info.value.to_dict()["context"] == {
        "binding_name": "artifact-registry",
        "env_var": "ALIEN_ARTIFACT_REGISTRY_BINDING",
    }
    assert info.value.http_status_code == 400


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        ("{not json", "Failed to parse binding JSON"),
        ('{"service":"nope"}', "Failed to parse artifact registry binding"),
        ('{"service":"ecr"}', "repositoryPrefix"),
    ],
)
def test_load_bad_binding_is_binding_config_invalid(raw: str, mentions: str) -> None:
    with pytest.raises(BindingConfigInvalid, match=mentions):
        artreg.load_artifact_registry("reg", env={"ALIEN_REG_BINDING": raw})


def test_load_secret_ref_and_expression_fields_fail() -> None:
    for value in ({"secretRef": {"name": "s", "key": "k"}}, {"Fn::Sub": "${X}"}):
        env = {"ALIEN_REG_BINDING": json.dumps({**LOCAL, "registryUrl": value})}
        with pytest.raises(BindingConfigInvalid) as info:
            artreg.load_artifact_registry("reg", env=env)
        assert info.value.context["reason"] == "Failed to extract registry_url from binding"


def test_load_errors_never_echo_the_binding_json() -> None:
    secretish = '{"service":"ecr","repositoryPrefix":"p","pullRoleArn":"arn:x", oops'
    with pytest.raises(ArtregError) as info:
        artreg.load_artifact_registry("reg", env={"ALIEN_REG_BINDING": secretish})
    assert "arn:x" not in json.dumps(info.value.to_dict())


def test_missing_provider_module_is_feature_not_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "artreg.providers.gar", None)  # as if the extra were absent
    env = {"ALIEN_REG_BINDING": '{"service":"gar","repositoryName":"r"}'}
    with pytest.raises(FeatureNotEnabled) as info:
        artreg.load_artifact_registry("reg", env=env)
    assert info.value.context == {"feature": "gcp"}
    assert info.value.http_status_code == 501


def test_load_valid_local_binding_is_cached_per_name_and_config() -> None:
    from artreg.providers.local import LocalArtifactRegistry

    env = {"ALIEN_ARTIFACTS_BINDING": json.dumps(LOCAL)}
    registry = artreg.load_artifact_registry("artifacts", env=env)
    assert isinstance(registry, LocalArtifactRegistry)
    assert registry.binding_name == "artifacts"
    assert registry.registry_endpoint() == "http://localhost:5000"
    assert registry.upstream_repository_prefix() == "artifacts/default"
    assert artreg.load_artifact_registry("artifacts", env=env) is registry
    other = {"ALIEN_ARTIFACTS_BINDING": json.dumps({**LOCAL, "registryUrl": "localhost:5001"})}
    assert artreg.load_artifact_registry("artifacts", env=other) is not registry


def test_local_binding_with_empty_url_is_not_wrapped() -> None:
    env = {"ALIEN_REG_BINDING": json.dumps({**LOCAL, "registryUrl": ""})}
    with pytest.raises(BindingConfigInvalid) as info:
        artreg.load_artifact_registry("reg", env=env)
    assert info.value.context["reason"] == "Registry endpoint cannot be empty"
