"""compose.yaml, parsed: every service of ours runs a real entry point with a health check, the
stack has RabbitMQ, SeaweedFS (webhook to the bridge), PostgreSQL, and `make run`'s settings."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from devstack.services import SERVICE_NAMES, StackPorts, stack_env
from shared.settings import CommonSettings
from tests.deploy.entrypoints import ROOT, build_settings, check_command, settings_classes
from tests.deploy.manifests import tool

# Settings that differ from `make run` on purpose: addresses inside the compose network, and the
# bridge's source (SeaweedFS's filer webhook instead of the metadata log; docs/deploy.md).
DIFFERENT_ON_PURPOSE = {
    "AMQP_URL",
    "S3_ENDPOINT_URL",
    "SEAWEEDFS_FILER",
    "BRIDGE_CHECKPOINT_PATH",
    "BRIDGE_SOURCE",
    "DATABASE_URL",
}


def with_defaults(text: str) -> str:
    """compose.yaml as compose reads it with none of its variables set: ``${VAR:-default}`` is the
    default (images and published ports are overridable; tests/containers sets them)."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(with_defaults((ROOT / "compose.yaml").read_text()))
    return loaded


def check_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    """Validate against the Compose Specification's JSON schema (vendored by check-jsonschema)."""
    command = [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_compose_yaml_follows_the_compose_specification() -> None:
    result = check_compose_spec(ROOT / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_typo(tmp_path: Path) -> None:
    broken = (ROOT / "compose.yaml").read_text().replace("service_completed_successfully", "service_completed_ok")
    (tmp_path / "compose.yaml").write_text(broken)
    assert check_compose_spec(tmp_path / "compose.yaml").returncode != 0


def test_every_variable_has_a_default() -> None:
    """`docker compose up` with nothing set must work: every ${...} carries its default."""
    text = (ROOT / "compose.yaml").read_text()
    assert "${" in text and "${" not in with_defaults(text)


def test_images_and_published_ports_are_overridable() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for variable in ("RABBITMQ_IMAGE", "SEAWEEDFS_IMAGE", "POSTGRES_IMAGE", "FILESERVICE_IMAGE", "PYTHON_IMAGE"):
        assert "${" + variable + ":-" in text, variable
    for variable in ("GATEWAY_PORT", "DOWNLOAD_PORT", "S3_PORT"):
        assert f"127.0.0.1:${{{variable}:-" in text, variable


def test_health_checks_are_in_shell_form(compose: dict[str, Any]) -> None:
    """podman's Docker-compatible API splits an exec-form check at spaces; CMD-SHELL works on both."""
    for name, svc in compose["services"].items():
        test = svc.get("healthcheck", {}).get("test")
        if test:
            assert test[0] == "CMD-SHELL" and len(test) == 2, f"{name}: {test}"


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == "fileservice:dev"}


def test_the_stack_has_its_infrastructure_and_all_five_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"rabbitmq", "seaweedfs", "postgres"} <= services.keys()
    assert set(SERVICE_NAMES) <= ours(compose).keys()


def test_every_command_is_a_real_entry_point(compose: dict[str, Any]) -> None:
    for name, svc in ours(compose).items():
        module = check_command(svc["command"])
        if name in SERVICE_NAMES:
            assert module == f"services.{name}"


def test_long_running_services_have_health_checks(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if svc.get("restart") == "no":
            continue  # one-shot set-up steps
        check = svc.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    for name in SERVICE_NAMES:
        assert "/readyz" in " ".join(ours(compose)[name]["healthcheck"]["test"])


def test_services_wait_for_what_they_need(compose: dict[str, Any]) -> None:
    services = ours(compose)
    for name in SERVICE_NAMES:
        assert services[name]["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}
    assert services["gateway"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["command"][2] == "services.gateway.migrate"
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_each_service_listens_on_its_make_run_port(compose: dict[str, Any]) -> None:
    ports = StackPorts()
    for name in SERVICE_NAMES:
        env = ours(compose)[name]["environment"]
        assert env["PORT"] == str(ports.of(name)) and env["HOST"] == "0.0.0.0"


def test_settings_are_those_of_make_run(compose: dict[str, Any]) -> None:
    local = stack_env(
        amqp_url="x",
        s3_endpoint_url="x",
        bucket="files",
        filer_address="x",
        ports=StackPorts(),
        data_dir=Path("/x"),
        access_key="dev",
        secret_key="devsecret",
        database_url="x",
    )
    for name in SERVICE_NAMES:
        env = ours(compose)[name]["environment"]
        for key, value in local.items():
            assert key in env, f"{name}: {key} is set by make run but not in compose.yaml"
            if key not in DIFFERENT_ON_PURPOSE:
                assert str(env[key]) == value, f"{name}: {key}={env[key]!r}, make run has {value!r}"


def test_each_service_starts_with_its_settings(compose: dict[str, Any]) -> None:
    """The compose environment builds every service's settings (a bad value would stop it at start)."""
    built: dict[str, list[BaseSettings]] = {}
    for name, svc in ours(compose).items():
        env = {key: str(value) for key, value in svc["environment"].items()}
        built[name] = []
        for cls in settings_classes(svc["command"][2]):
            try:
                settings = build_settings(cls, env)
            except ValidationError as exc:
                pytest.fail(f"{name}: compose.yaml's environment does not make {cls.__name__}:\n{exc}")
            assert isinstance(settings, CommonSettings), f"{name}: {cls.__name__}"
            assert settings.amqp_url.get_secret_value() == env["AMQP_URL"], f"{name}: the broker is not compose's"
            built[name].append(settings)
    assert set(SERVICE_NAMES) <= built.keys() and all(built.values()), {n: len(s) for n, s in built.items()}


def test_seaweedfs_notifies_the_bridge(compose: dict[str, Any]) -> None:
    seaweed = compose["services"]["seaweedfs"]
    mount = next(v for v in seaweed["volumes"] if v.endswith(":/etc/seaweedfs:ro"))
    config = ROOT / mount.split(":")[0]
    webhook = tomllib.loads((config / "notification.toml").read_text())["notification"]["webhook"]
    bridge_env = ours(compose)["bridge"]["environment"]
    url = urlsplit(webhook["endpoint"])
    assert webhook["enabled"] is True
    assert (url.hostname, url.port, url.path) == ("bridge", int(bridge_env["PORT"]), "/events/seaweedfs")
    assert bridge_env["BRIDGE_SOURCE"] == "webhook"
    assert webhook["bearer_token"] == bridge_env["BRIDGE_WEBHOOK_TOKEN"]
    assert webhook["path_prefixes"] == [f"/buckets/{bridge_env['S3_BUCKET']}"]
    assert "-s3.config=/etc/seaweedfs/s3.json" in seaweed["command"]
