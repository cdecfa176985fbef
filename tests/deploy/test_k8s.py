"""Every overlay rendered with `kubectl kustomize`, validated offline with `kubernetes-validate
--strict` (built-in kinds), and the rendered objects checked as a cluster operator would."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.bridge.settings import SOURCE_SQS, SOURCE_WEBHOOK
from services.resize.app import stop_timeout
from services.resize.settings import ResizeSettings
from tests.deploy.entrypoints import SERVICES, build_settings, check_command, env_names, settings_classes
from tests.deploy.manifests import K8S, OVERLAYS, Rendered, containers, matches, pod_spec, tool

HTTP_SERVICES = {"gateway", "download", "bridge"}  # they take requests: a preStop pause before SIGTERM
PRE_STOP_SECONDS = 5
BUILT_IN_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1", "autoscaling/v2"}


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return Rendered.of(request.param)


def is_ours(container: dict[str, Any]) -> bool:
    return str(container["image"]).rsplit("/", 1)[-1].startswith("fileservice:")


def service_deployments(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered.kind("Deployment") if d["metadata"]["name"] in SERVICES}


def test_there_are_two_overlays() -> None:
    assert {"dev", "aws"} <= set(OVERLAYS)


def test_kubernetes_validate_strict_accepts_the_built_in_kinds(rendered: Rendered, tmp_path: Path) -> None:
    built_in = [o for o in rendered.objects if o["apiVersion"] in BUILT_IN_GROUPS]
    unknown = {o["apiVersion"] for o in rendered.objects} - BUILT_IN_GROUPS - {"keda.sh/v1alpha1"}
    assert not unknown, f"custom kinds without a shape test: {unknown}"
    path = tmp_path / f"{rendered.overlay}.yaml"
    path.write_text(yaml.safe_dump_all(built_in))
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "--quiet", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_catches_a_typo(tmp_path: Path) -> None:
    """The validator is really strict here: an unknown field fails."""
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", str(path)], capture_output=True)
    assert result.returncode != 0


def test_all_five_services_run_their_own_entry_point(rendered: Rendered) -> None:
    deployments = service_deployments(rendered)
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        [container] = pod_spec(deployment)["containers"]
        assert is_ours(container)
        assert check_command(container["command"]) == f"services.{name}"
    for workload in rendered.workloads():
        for container in containers(workload):
            if is_ours(container):
                check_command(container["command"])


def test_the_gateway_migrates_the_database_before_it_starts(rendered: Rendered) -> None:
    [migrate] = pod_spec(service_deployments(rendered)["gateway"])["initContainers"]
    assert migrate["command"] == ["python", "-m", "services.gateway.migrate"]


def test_every_container_has_resources_and_a_locked_down_security_context(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        where = f"{rendered.overlay}/{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        for container in containers(workload):
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), where
            assert "memory" in resources["limits"], where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert "ALL" in security["capabilities"]["drop"], where
            assert not security.get("privileged"), where
            if is_ours(container):
                assert security["readOnlyRootFilesystem"] is True, where
                assert security.get("runAsNonRoot", spec["securityContext"].get("runAsNonRoot")) is True, where
                assert spec["securityContext"]["runAsUser"] > 0, where
                tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
                volume = next(v for v in spec["volumes"] if v["name"] == tmp["name"])
                assert "emptyDir" in volume, where


def test_long_running_containers_have_probes(rendered: Rendered) -> None:
    for workload in rendered.workloads():
        if workload["kind"] == "Job":
            continue
        for container in pod_spec(workload)["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, f"{rendered.overlay}/{workload['metadata']['name']}: no {probe}"


def test_services_are_probed_on_their_own_port(rendered: Rendered) -> None:
    for name, deployment in service_deployments(rendered).items():
        [container] = pod_spec(deployment)["containers"]
        port = int(rendered.container_env(container)["PORT"])
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        for probe in ("livenessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz", name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert named[container[probe]["httpGet"]["port"]] == port, name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (str(port), "/metrics")


def test_every_setting_a_service_reads_is_set_and_valid(rendered: Rendered) -> None:
    """Each container's environment names every variable its settings read, and builds them."""
    for workload in rendered.workloads():
        for container in containers(workload):
            if not is_ours(container):
                continue
            env = rendered.container_env(container)
            for cls in settings_classes(container["command"][2]):
                fields = env_names(cls)
                missing = sorted(set(fields) - set(env))
                assert not missing, f"{rendered.overlay}/{container['name']}: {missing} not set"
                build_settings(cls, env)


def test_selectors_match_their_pods(rendered: Rendered) -> None:
    pods = {w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in rendered.workloads()}
    for workload in rendered.workloads():
        if workload["kind"] != "Job":
            assert matches(workload["spec"]["selector"]["matchLabels"], pods[workload["metadata"]["name"]])
    for service in rendered.kind("Service"):
        targets = [n for n, labels in pods.items() if matches(service["spec"]["selector"], labels)]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {targets}"
    for pdb in rendered.kind("PodDisruptionBudget"):
        targets = [n for n, labels in pods.items() if matches(pdb["spec"]["selector"]["matchLabels"], labels)]
        assert targets == [pdb["metadata"]["name"]], f"PDB {pdb['metadata']['name']} selects {targets}"
    assert {p["metadata"]["name"] for p in rendered.kind("PodDisruptionBudget")} == set(SERVICES)


def test_resize_scales_one_way_and_scaled_deployments_set_no_replicas(rendered: Rendered) -> None:
    scalers = [("HPA", h["spec"]["scaleTargetRef"]) for h in rendered.kind("HorizontalPodAutoscaler")]
    scalers += [("KEDA", s["spec"]["scaleTargetRef"]) for s in rendered.kind("ScaledObject")]
    assert len({kind for kind, _ in scalers}) == 1, f"{rendered.overlay}: one of KEDA or HPA, got {scalers}"
    targets = [ref["name"] for _, ref in scalers]
    assert targets == ["resize"], targets
    for _, ref in scalers:
        assert (ref.get("apiVersion", "apps/v1"), ref.get("kind", "Deployment")) == ("apps/v1", "Deployment")
        assert "replicas" not in rendered.get("Deployment", ref["name"])["spec"]


def test_keda_scales_on_the_resize_queue(rendered: Rendered) -> None:
    for scaled in rendered.kind("ScaledObject"):
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        spec = scaled["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        [trigger] = spec["triggers"]
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["queueName"] == "resize.requests"
        assert trigger["metadata"]["mode"] in {"QueueLength", "MessageRate"}
        assert float(trigger["metadata"]["value"]) > 0
        auth = rendered.get("TriggerAuthentication", trigger["authenticationRef"]["name"])
        [ref] = auth["spec"]["secretTargetRef"]
        assert ref["parameter"] == "host"
        assert rendered.has_secret(ref["name"]), f"TriggerAuthentication names a missing Secret {ref['name']}"
        assert urlsplit(rendered.secret_data(ref["name"])[ref["key"]]).scheme in {"amqp", "amqps"}


def test_the_grace_period_outlasts_the_longest_job(rendered: Rendered) -> None:
    deployments = service_deployments(rendered)

    def setting(name: str, key: str) -> float:
        return float(rendered.container_env(pod_spec(deployments[name])["containers"][0])[key])

    longest = {
        "gateway": PRE_STOP_SECONDS + 10,
        "download": PRE_STOP_SECONDS + setting("download", "RESIZE_TIMEOUT"),
        "resize": stop_timeout(setting("resize", "JOB_TIMEOUT")),  # two jobs in a row, + 5 s at stop
        "cleanup": setting("cleanup", "STOP_TIMEOUT"),
        "bridge": PRE_STOP_SECONDS
        + setting("bridge", "BRIDGE_SQS_WAIT_SECONDS")
        + setting("bridge", "BRIDGE_PUBLISH_TIMEOUT"),
    }
    for name, deployment in deployments.items():
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert grace > longest[name], f"{rendered.overlay}/{name}: {grace}s <= {longest[name]}s"


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def test_the_resize_memory_limit_holds_every_job_at_its_limit(rendered: Rendered) -> None:
    """A job past JOB_MEMORY_LIMIT fails alone (TOO_MANY_PIXELS); the pod is never OOM-killed first."""
    [container] = pod_spec(service_deployments(rendered)["resize"])["containers"]
    settings = build_settings(ResizeSettings, rendered.container_env(container))
    assert isinstance(settings, ResizeSettings)
    assert settings.job_memory_limit > 0 and settings.worker_processes > 0, "pin both: the pod's size depends on them"
    limit = memory_bytes(container["resources"]["limits"]["memory"])
    assert limit >= settings.memory_needed(), f"{rendered.overlay}: {limit} < {settings.memory_needed()}"
    assert memory_bytes(container["resources"]["requests"]["memory"]) <= limit


def test_http_services_pause_before_stopping(rendered: Rendered) -> None:
    for name, deployment in service_deployments(rendered).items():
        [container] = pod_spec(deployment)["containers"]
        pre_stop = container.get("lifecycle", {}).get("preStop")
        if name in HTTP_SERVICES:
            assert pre_stop == {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}, name
        else:
            assert pre_stop is None, name


def test_the_ingress_routes_graphql_the_page_and_files(rendered: Rendered) -> None:
    [ingress] = rendered.kind("Ingress")
    routes = {
        path["path"]: (path["backend"]["service"]["name"], path["backend"]["service"]["port"]["name"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes == {
        "/graphql": ("gateway", "http"),
        "/": ("gateway", "http"),  # the File Manager page, and its files under /app
        "/app": ("gateway", "http"),
        "/files": ("download", "http"),
    }
    for service_name, port_name in routes.values():
        assert port_name in {p["name"] for p in rendered.get("Service", service_name)["spec"]["ports"]}


def test_everything_lands_in_the_overlay_namespace(rendered: Rendered) -> None:
    [namespace] = rendered.kind("Namespace")
    for obj in rendered.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace["metadata"]["name"], obj["metadata"]["name"]


# --- the dev overlay: its parts agree with each other ---------------------------------------------


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return Rendered.of("dev")


def dev_env(dev: Rendered) -> dict[str, str]:
    return dev.container_env(pod_spec(dev.get("Deployment", "bridge"))["containers"][0])


def seaweedfs_config(dev: Rendered) -> dict[str, str]:
    """The files SeaweedFS finds in /etc/seaweedfs: the Secret its pod mounts there."""
    seaweed = pod_spec(dev.get("StatefulSet", "seaweedfs"))
    mount = next(m for m in seaweed["containers"][0]["volumeMounts"] if m["mountPath"] == "/etc/seaweedfs")
    volume = next(v for v in seaweed["volumes"] if v["name"] == mount["name"])
    return dev.secret_data(volume["secret"]["secretName"])


def service_port(rendered: Rendered, url: str) -> None:
    """The URL's host is a Service of the overlay that has the URL's port."""
    parts = urlsplit(url)
    ports = {p["port"] for p in rendered.get("Service", str(parts.hostname))["spec"]["ports"]}
    assert parts.port in ports, url


def test_dev_seaweedfs_posts_its_events_to_the_bridge(dev: Rendered) -> None:
    files = seaweedfs_config(dev)
    webhook = tomllib.loads(files["notification.toml"])["notification"]["webhook"]
    env = dev_env(dev)
    assert env["BRIDGE_SOURCE"] == SOURCE_WEBHOOK and webhook["enabled"] is True
    url = urlsplit(webhook["endpoint"])
    assert (url.hostname, url.port, url.path) == ("bridge", int(env["PORT"]), "/events/seaweedfs")
    service_port(dev, webhook["endpoint"])
    assert webhook["bearer_token"] == env["BRIDGE_WEBHOOK_TOKEN"] != ""
    assert webhook["path_prefixes"] == [f"/buckets/{env['S3_BUCKET']}"]
    seaweed = pod_spec(dev.get("StatefulSet", "seaweedfs"))
    assert "-s3.config=/etc/seaweedfs/s3.json" in seaweed["containers"][0]["args"]


def test_dev_credentials_agree(dev: Rendered) -> None:
    env = dev_env(dev)
    [identity] = yaml.safe_load(seaweedfs_config(dev)["s3.json"])["identities"]
    assert identity["credentials"] == [{"accessKey": env["S3_ACCESS_KEY"], "secretKey": env["S3_SECRET_KEY"]}]
    service_port(dev, env["S3_ENDPOINT_URL"])

    rabbit = dev.container_env(pod_spec(dev.get("StatefulSet", "rabbitmq"))["containers"][0])
    amqp = urlsplit(env["AMQP_URL"])
    assert (amqp.username, amqp.password) == (rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"])
    service_port(dev, env["AMQP_URL"])

    gateway = dev.container_env(pod_spec(dev.get("Deployment", "gateway"))["initContainers"][0])
    postgres = dev.container_env(pod_spec(dev.get("StatefulSet", "postgres"))["containers"][0])
    database = urlsplit(gateway["DATABASE_URL"])
    assert (database.username, database.password) == ("postgres", postgres["POSTGRES_PASSWORD"])
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    service_port(dev, gateway["DATABASE_URL"])


def test_dev_creates_the_bucket(dev: Rendered) -> None:
    [job] = dev.kind("Job")
    [container] = pod_spec(job)["containers"]
    assert container["command"] == ["python", "-m", "devstack", "bucket"]
    assert dev.container_env(container)["S3_BUCKET"] == dev_env(dev)["S3_BUCKET"]


def test_aws_reads_s3_events_from_sqs_and_keeps_secrets_out_of_git() -> None:
    aws = Rendered.of("aws")
    env = dev_env(aws)
    assert env["BRIDGE_SOURCE"] == SOURCE_SQS and env["BRIDGE_SQS_QUEUE_URL"].startswith("https://sqs.")
    assert env["S3_ENDPOINT_URL"] == "" and env["DEV_MODE"] == "false"
    assert aws.kind("Secret") == [], "aws credentials are made in the cluster, never rendered from git"
    assert not (K8S / "overlays" / "aws" / "secrets.env").exists() or re.search(
        r"secrets\.env", (K8S.parents[1] / ".gitignore").read_text()
    )


# --- the checks themselves catch what they are for ------------------------------------------------


def mutated(overlay: str, change: Any) -> Rendered:
    rendered = Rendered.of(overlay)
    change(rendered)
    return rendered


def test_the_checks_catch_a_missing_setting() -> None:
    def drop(rendered: Rendered) -> None:
        [config] = rendered.kind("ConfigMap")
        del config["data"]["JOB_TIMEOUT"]

    with pytest.raises(AssertionError, match="JOB_TIMEOUT"):
        test_every_setting_a_service_reads_is_set_and_valid(mutated("dev", drop))


def test_the_checks_catch_an_invalid_setting() -> None:
    def spoil(rendered: Rendered) -> None:
        rendered.kind("ConfigMap")[0]["data"]["IMAGE_WIDTHS"] = "100,wide"

    with pytest.raises(ValueError, match="image_widths"):
        test_every_setting_a_service_reads_is_set_and_valid(mutated("aws", spoil))


def test_the_checks_catch_replicas_on_a_scaled_deployment_and_two_scalers() -> None:
    def pin(rendered: Rendered) -> None:
        rendered.get("Deployment", "resize")["spec"]["replicas"] = 3

    with pytest.raises(AssertionError):
        test_resize_scales_one_way_and_scaled_deployments_set_no_replicas(mutated("aws", pin))

    def both(rendered: Rendered) -> None:
        rendered.objects += Rendered.of("dev").kind("HorizontalPodAutoscaler")

    with pytest.raises(AssertionError, match="one of KEDA or HPA"):
        test_resize_scales_one_way_and_scaled_deployments_set_no_replicas(mutated("aws", both))


def test_the_checks_catch_a_selector_that_matches_nothing() -> None:
    def typo(rendered: Rendered) -> None:
        rendered.get("Service", "download")["spec"]["selector"]["app.kubernetes.io/component"] = "downlaod"

    with pytest.raises(AssertionError, match="Service download selects"):
        test_selectors_match_their_pods(mutated("dev", typo))


def test_the_checks_catch_a_root_container_and_a_short_grace_period() -> None:
    def root(rendered: Rendered) -> None:
        pod_spec(rendered.get("Deployment", "cleanup"))["containers"][0]["securityContext"][
            "readOnlyRootFilesystem"
        ] = False

    with pytest.raises(AssertionError, match="cleanup"):
        test_every_container_has_resources_and_a_locked_down_security_context(mutated("dev", root))

    def hurry(rendered: Rendered) -> None:
        pod_spec(rendered.get("Deployment", "resize"))["terminationGracePeriodSeconds"] = 30

    with pytest.raises(AssertionError, match="resize"):
        test_the_grace_period_outlasts_the_longest_job(mutated("dev", hurry))


def test_the_checks_catch_a_resize_pod_too_small_for_its_jobs() -> None:
    def more_processes(rendered: Rendered) -> None:
        rendered.kind("ConfigMap")[0]["data"]["WORKER_PROCESSES"] = "4"

    with pytest.raises(AssertionError, match="dev"):
        test_the_resize_memory_limit_holds_every_job_at_its_limit(mutated("dev", more_processes))
