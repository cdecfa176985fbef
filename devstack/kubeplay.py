"""The dev overlay's five Deployments under ``podman kube play``, against a compose stack's
infrastructure: their own commands, env (ConfigMap and Secret), probes' endpoints and security
contexts, as ``kubectl kustomize deploy/k8s/overlays/dev`` renders them.

podman 4.3 plays Pods and Deployments (one pod each, replicas ignored), ConfigMaps, and it runs
their containers with the securityContext's user, read-only root, capabilities and
no-new-privileges. What it cannot play stays validated offline (``tests/deploy``): Services and
Ingress (the pods join the compose network instead, where ``rabbitmq``, ``seaweedfs`` and
``postgres`` resolve to compose's containers), StatefulSets with PVCs (compose runs the
infrastructure), the Job, the HPA, PodDisruptionBudgets and the Namespace. Readiness probes are not
run by podman (liveness probes become health checks, which need systemd); the probes' endpoints
are asked here, inside each container, on the port and path the manifest names.

What is changed from the rendered objects, and why:
- the image: the one built here (the overlay names a registry's);
- the names get a suffix of this run (pods and the Secret), so two runs never meet;
- ``ports`` are dropped (the probes' named ports replaced by their numbers): podman 4.3 publishes
  every containerPort on the host, which a cluster never does, and 8000-8004 may be taken;
- the Secret is created with ``podman secret create`` (JSON of key -> base64 value, what podman 4.3
  reads for ``secretRef``) and left out of the played file: podman 4.3 stores a Secret of the
  played file as YAML and then fails to parse it as JSON;
- the gateway's init container (the migrations) is of podman's type ``always`` (an annotation):
  podman 4.3 fails removing a ``once`` init container it just ran;
- RabbitMQ's user gets the overlay's password (compose's stack has its own).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.containers import ComposeStack
from devstack.engine import ROOT

PLAYED_KINDS = {"Deployment", "ConfigMap"}
# podman 4.3 removes a "once" init container after it ran and then fails on its own removal
# ("failed to remove once init container ... it is running"); "always" keeps it.
INIT_TYPE = "io.podman.annotations.init.container.type"


def render(overlay: str = "dev") -> list[dict[str, Any]]:
    import yaml  # a dev tool's dependency: devstack ships in the image, which has no PyYAML

    kubectl = Path(sys.executable).parent / "kubectl"
    out = subprocess.run(
        [str(kubectl), "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@dataclass
class Played:
    documents: list[dict[str, Any]]  # what was played
    secrets: dict[str, dict[str, Any]]  # podman secret name -> the Secret object
    not_played: list[str]  # "Kind/name" of what podman cannot play
    suffix: str

    def deployments(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == "Deployment"]


def adapt(rendered: list[dict[str, Any]], image: str, suffix: str) -> Played:
    secrets = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Secret"}
    used: set[str] = set()
    played: list[dict[str, Any]] = []
    for doc in rendered:
        if doc["kind"] not in PLAYED_KINDS:
            continue
        doc = json.loads(json.dumps(doc))
        doc["metadata"].pop("namespace", None)
        if doc["kind"] == "Deployment":
            doc["metadata"]["name"] = f"{doc['metadata']['name']}-{suffix}"
            doc["spec"]["replicas"] = 1
            pod = doc["spec"]["template"]["spec"]
            if pod.get("initContainers"):
                for meta in (doc["metadata"], doc["spec"]["template"].setdefault("metadata", {})):
                    meta.setdefault("annotations", {})[INIT_TYPE] = "always"
            for container in pod.get("initContainers", []) + pod["containers"]:
                container["image"] = image
                unpublish(container)
                for source in container.get("envFrom", []):
                    if "secretRef" in source:
                        used.add(source["secretRef"]["name"])
                        source["secretRef"]["name"] += f"-{suffix}"
                for var in container.get("env", []):
                    ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        used.add(ref["name"])
                        ref["name"] += f"-{suffix}"
        played.append(doc)
    not_played = [
        f"{d['kind']}/{d['metadata']['name']}"
        for d in rendered
        if d["kind"] not in PLAYED_KINDS and not (d["kind"] == "Secret" and d["metadata"]["name"] in used)
    ]
    return Played(played, {f"{name}-{suffix}": secrets[name] for name in used}, not_played, suffix)


def unpublish(container: dict[str, Any]) -> None:
    """Drop ``ports`` (podman 4.3 publishes every containerPort on the host, where a cluster
    publishes none), after naming the probes' ports by number."""
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if "httpGet" in container.get(probe, {}):
            port, _ = probe_target(container, probe)
            container[probe]["httpGet"]["port"] = port
    container.pop("ports", None)


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    """The Secret as podman 4.3 reads a secret for ``kube play``: JSON of key -> base64 value."""
    data = dict(secret.get("data", {}))
    for key, value in secret.get("stringData", {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    return data


def secret_value(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret_data(secret)[key]).decode()


@contextmanager
def kube_play(stack: ComposeStack, overlay: str = "dev") -> Iterator[Played]:
    """Play the overlay's Deployments into ``stack``'s network; everything is removed on leaving."""
    engine = stack.engine
    if engine.kind != "podman":
        raise RuntimeError("podman kube play needs podman (DEVSTACK_ENGINE=podman)")
    image = stack.images.get("FILESERVICE_IMAGE", "fileservice:dev")
    image = image if "/" in image else f"localhost/{image}"
    played = adapt(render(overlay), image, uuid.uuid4().hex[:6])
    with ExitStack() as cleanup, tempfile.TemporaryDirectory(prefix="fileservice-kube-") as tmp:
        for name, secret in played.secrets.items():
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(secret_data(secret)))
            engine.run("secret", "create", name, str(path))
            cleanup.callback(engine.run, "secret", "rm", name, check=False)
            amqp = urlsplit(secret_value(secret, "AMQP_URL")) if "AMQP_URL" in secret_data(secret) else None
            if amqp is not None and amqp.username and amqp.password:
                rabbit = stack.compose("ps", "-q", "rabbitmq").stdout.strip()
                engine.run("exec", rabbit, "rabbitmqctl", "-q", "change_password", amqp.username, amqp.password)
        import yaml

        manifest = Path(tmp) / "play.yaml"
        manifest.write_text(yaml.safe_dump_all(played.documents))
        network = f"{stack.project}_default"
        for deployment in played.deployments():  # ours only: the names carry this run's suffix
            cleanup.callback(
                engine.run,
                "pod",
                "rm",
                "-f",
                "-t",
                "10",
                f"{deployment['metadata']['name']}-pod-0",
                check=False,
                timeout=300,
            )
        result = engine.run("kube", "play", "--network", network, str(manifest), check=False, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"podman kube play failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        yield played


def containers_of(stack: ComposeStack, played: Played) -> dict[str, dict[str, Any]]:
    """Deployment (its rendered name) -> ``inspect`` of its played container."""
    found: dict[str, dict[str, Any]] = {}
    for deployment in played.deployments():
        name = deployment["metadata"]["name"]
        pod = f"{name}-pod-0"
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            inspected = stack.engine.run("inspect", f"{pod}-{container['name']}", check=False)
            if inspected.returncode == 0:
                found[name.removesuffix(f"-{played.suffix}")] = json.loads(inspected.stdout)[0]
    return found


def probe_target(container: dict[str, Any], probe: str) -> tuple[int, str]:
    """(port, path) of the container spec's HTTP probe (a named port resolved)."""
    get = container[probe]["httpGet"]
    port = get["port"]
    if isinstance(port, str):
        port = next(p["containerPort"] for p in container["ports"] if p.get("name") == port)
    return int(port), str(get["path"])


def ready(stack: ComposeStack, container_name: str, port: int, path: str) -> bool:
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3)"
    return stack.engine.run("exec", container_name, "python", "-c", probe, check=False).returncode == 0


def wait_ready(stack: ComposeStack, played: Played, timeout: float = 180.0) -> dict[str, float]:
    """Seconds until each Deployment's container answers its readinessProbe's endpoint."""
    started = time.monotonic()
    pending = {
        d["metadata"]["name"]: (f"{d['metadata']['name']}-pod-0-{c['name']}", *probe_target(c, "readinessProbe"))
        for d in played.deployments()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    done: dict[str, float] = {}
    while pending and time.monotonic() - started < timeout:
        for name, (container, port, path) in list(pending.items()):
            if ready(stack, container, port, path):
                done[name.removesuffix(f"-{played.suffix}")] = time.monotonic() - started
                del pending[name]
        time.sleep(1)
    if pending:
        logs = {n: stack.engine.run("logs", "--tail", "20", c[0], check=False).stdout for n, c in pending.items()}
        raise TimeoutError(f"not ready within {timeout:.0f}s: {sorted(pending)}\n{logs}")
    return done
