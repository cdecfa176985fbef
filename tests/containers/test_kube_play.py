"""The dev overlay's five Deployments, as `kubectl kustomize` renders them, under `podman kube play`
against the compose stack's RabbitMQ, SeaweedFS and PostgreSQL: each becomes ready on its
readinessProbe's endpoint, with the manifest's command, env and security context
(devstack/kubeplay.py says what podman cannot play and what is adapted)."""

from __future__ import annotations

import pytest

from devstack.containers import ComposeStack
from devstack.kubeplay import containers_of, kube_play, wait_ready

pytestmark = pytest.mark.timeout(900)
SERVICES = {"gateway", "download", "resize", "cleanup", "bridge"}


def test_the_five_deployments_become_ready_under_podman(compose_stack: ComposeStack) -> None:
    if compose_stack.engine.kind != "podman":
        pytest.skip("podman kube play needs podman; this engine is Docker")
    with kube_play(compose_stack) as played:
        assert {d["metadata"]["name"].rsplit("-", 1)[0] for d in played.deployments()} == SERVICES
        assert {"Ingress/fileservice", "HorizontalPodAutoscaler/resize", "Job/create-bucket"} <= set(played.not_played)
        ready = wait_ready(compose_stack, played)
        assert set(ready) == SERVICES
        running = containers_of(compose_stack, played)
        assert set(running) == SERVICES
        for deployment in played.deployments():
            name = deployment["metadata"]["name"].rsplit("-", 1)[0]
            spec = deployment["spec"]["template"]["spec"]
            manifest = spec["containers"][0]
            container = running[name]
            entrypoint = container["Config"]["Entrypoint"]  # podman runs a container's `command` as it
            entrypoint = entrypoint.split() if isinstance(entrypoint, str) else entrypoint
            assert entrypoint == manifest["command"], name
            user = spec["securityContext"].get("runAsUser") or manifest["securityContext"].get("runAsUser")
            assert container["Config"]["User"].split(":")[0] == str(user), name
            assert container["HostConfig"]["ReadonlyRootfs"] is manifest["securityContext"]["readOnlyRootFilesystem"]
            assert manifest["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert (
                "CAP_NET_RAW" in container["HostConfig"]["CapDrop"]
                and "CAP_CHOWN" in container["HostConfig"]["CapDrop"]
            )
            assert "no-new-privileges" in container["HostConfig"]["SecurityOpt"], name
            env = dict(item.split("=", 1) for item in container["Config"]["Env"])
            assert env["AMQP_URL"].startswith("amqp://fileservice:"), name  # from the overlay's Secret
            assert env["S3_ENDPOINT_URL"] == "http://seaweedfs:8333", name  # from its ConfigMap
