"""Rendering the overlays with ``kubectl kustomize`` and looking things up in the result."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.entrypoints import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
# Secrets an overlay expects to exist in the cluster (made outside kustomize): their keys.
EXTERNAL_SECRETS = {"aws": {"fileservice-secrets": K8S / "overlays" / "aws" / "secrets.env.example"}}


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: make install")
    return found


def render(overlay: str) -> str:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return result.stdout


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@dataclass
class Rendered:
    overlay: str
    text: str
    objects: list[dict[str, Any]]

    @classmethod
    def of(cls, overlay: str) -> Rendered:
        text = render(overlay)
        return cls(overlay, text, [o for o in yaml.safe_load_all(text) if o])

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: {len(found)} {kind} named {name}"
        return found[0]

    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in WORKLOADS]

    def secret_data(self, name: str) -> dict[str, str]:
        """A Secret's values: rendered, or (for one made outside kustomize) its documented keys."""
        external = EXTERNAL_SECRETS.get(self.overlay, {})
        if name in external:
            return read_env_file(external[name])
        secret = self.get("Secret", name)
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        return {**data, **(secret.get("stringData") or {})}

    def has_secret(self, name: str) -> bool:
        return name in EXTERNAL_SECRETS.get(self.overlay, {}) or any(
            s["metadata"]["name"] == name for s in self.kind("Secret")
        )

    def container_env(self, container: dict[str, Any]) -> dict[str, str]:
        """The environment a container gets: envFrom ConfigMaps/Secrets, then its own env."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.get("ConfigMap", source["configMapRef"]["name"])["data"])
            if "secretRef" in source:
                env.update(self.secret_data(source["secretRef"]["name"]))
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"].get("configMapKeyRef")
                assert ref, item
                source = (
                    self.secret_data(ref["name"])
                    if "secretKeyRef" in item["valueFrom"]
                    else (self.get("ConfigMap", ref["name"])["data"])
                )
                env[item["name"]] = source[ref["key"]]
        return env


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any], *, init: bool = True) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
