"""The images of the container stack and of the test fixtures: upstream by default, local stand-ins
where no registry answers, every one overridable by an environment variable.

``image_for(engine, "rabbitmq")``: ``$RABBITMQ_IMAGE`` if set; else the upstream image if the engine
has it or can pull it; else the stand-in built from Debian (``deploy/images/<name>/``, on a Python
base made with debootstrap), tagged with a hash of its build inputs so that it is built once and
rebuilt only when they change. ``app_image`` builds the project's own ``Dockerfile`` likewise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.engine import ROOT, Engine

IMAGES_DIR = ROOT / "deploy" / "images"
LABEL = "io.fileservice.inputs"


@dataclass(frozen=True)
class Image:
    name: str
    env: str  # the variable that overrides it, in compose.yaml and in the fixtures alike
    upstream: str


IMAGES = {
    "python": Image("python", "PYTHON_IMAGE", "python:3.11-slim-bookworm"),
    "rabbitmq": Image("rabbitmq", "RABBITMQ_IMAGE", "rabbitmq:4.1-management"),
    "seaweedfs": Image("seaweedfs", "SEAWEEDFS_IMAGE", "chrislusf/seaweedfs:4.48"),
    "postgres": Image("postgres", "POSTGRES_IMAGE", "postgres:16-bookworm"),
}
APP_IMAGE_ENV = "FILESERVICE_IMAGE"
APP_IMAGE = "fileservice:dev"

# The Python base from Debian: bookworm's python3 (3.11), as python:3.11-slim-bookworm has it.
BASE_SUITE = "bookworm"
BASE_PACKAGES = "python3,python3-venv,python3-pip,python-is-python3,ca-certificates"
BASE_RECIPE = f"debootstrap minbase {BASE_SUITE} {BASE_PACKAGES} updates+security v1"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def log(message: str) -> None:
    print(f"images: {message}", flush=True)


def has_image(engine: Engine, ref: str) -> bool:
    return engine.run("image", "inspect", ref, check=False).returncode == 0


def pull(engine: Engine, ref: str) -> bool:
    try:
        return engine.run("pull", ref, check=False, timeout=600).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def image_for(engine: Engine, name: str) -> str:
    """The image to run for ``name`` (see the module's docstring); builds the stand-in if needed."""
    image = IMAGES[name]
    override = os.environ.get(image.env)
    if override:
        return override
    if has_image(engine, image.upstream) or pull(engine, image.upstream):
        return image.upstream
    return standin(engine, name)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:12]


def _tree_bytes(paths: list[Path]) -> list[bytes]:
    out: list[bytes] = []
    for top in paths:
        files = sorted(p for p in (top.rglob("*") if top.is_dir() else [top]) if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            out.append(str(path.relative_to(ROOT)).encode())
            out.append(path.read_bytes())
            out.append(b"x" if os.access(path, os.X_OK) else b"-")
    return out


def python_base(engine: Engine) -> str:
    """A Python 3.11 base image: ``$PYTHON_IMAGE``, the upstream one, or one made with debootstrap."""
    return image_for(engine, "python")


def standin(engine: Engine, name: str) -> str:
    if name == "python":
        return debootstrap_base(engine)
    base = debootstrap_base(engine)
    context = IMAGES_DIR / name
    tag = f"localhost/fileservice-standin-{name}:{_digest(base.encode(), *_tree_bytes([context]))}"
    if has_image(engine, tag):
        return tag
    log(f"building the stand-in {tag} (no registry answered for {IMAGES[name].upstream})")
    build(engine, tag, context, build_args={"BASE": base})
    return tag


def build(
    engine: Engine,
    tag: str,
    context: Path,
    *,
    build_args: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    dockerfile: Path | None = None,
) -> None:
    """``docker build`` / ``podman build``; pip inside gets the proxy's CA as a build secret (never
    a layer of the image) when ``PIP_CERT`` or ``SSL_CERT_FILE`` names one."""
    command = ["build", "-t", tag]
    if engine.kind == "podman":
        command += ["--network", "host"]  # pip and apt reach the index only through the host's network
    ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        command += ["--secret", f"id=pip-ca,src={ca}"]
    for key, value in (build_args or {}).items():
        command += ["--build-arg", f"{key}={value}"]
    for key, value in (labels or {}).items():
        command += ["--label", f"{key}={value}"]
    if dockerfile is not None:
        command += ["-f", str(dockerfile)]
    started = time.monotonic()
    env = {**os.environ, **engine.env}
    if engine.kind == "docker":
        env.setdefault("DOCKER_BUILDKIT", "1")  # --secret needs BuildKit
    result = subprocess.run(
        [*engine.cli(), *command, str(context)], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"building {tag} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    log(f"built {tag} in {time.monotonic() - started:.0f}s")


def debootstrap_base(engine: Engine) -> str:
    """The Python base made from Debian packages (``debootstrap --variant=minbase``), imported once."""
    tag = f"localhost/fileservice-standin-python:3.11-{_digest(BASE_RECIPE.encode())}"
    if has_image(engine, tag):
        return tag
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is missing: scripts/install-podman.sh installs it (or set PYTHON_IMAGE)")
    mirror = os.environ.get("DEBIAN_MIRROR") or host_mirror()
    log(f"making the Python base {tag} with debootstrap from {mirror} (about a minute)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fileservice-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", BASE_SUITE, str(rootfs), mirror],
            check=True,
            capture_output=True,
        )
        sources = (
            f"deb {mirror} {BASE_SUITE} main\n"
            f"deb {mirror} {BASE_SUITE}-updates main\n"
            f"deb {mirror.replace('/debian', '/debian-security')} {BASE_SUITE}-security main\n"
        )
        (rootfs / "etc" / "apt" / "sources.list").write_text(sources)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [*engine.cli(), "import", "--change", 'CMD ["python3"]', "-", tag],
            stdin=tar.stdout,
            env={**os.environ, **engine.env},
            capture_output=True,
            check=False,
        )
        tar.wait()
        if imported.returncode != 0:
            raise RuntimeError(f"importing {tag} failed: {imported.stderr.decode(errors='replace')[-2000:]}")
    log(f"made {tag} in {time.monotonic() - started:.0f}s")
    return tag


def host_mirror() -> str:
    """The Debian mirror this machine's apt uses (``URIs:`` of debian.sources), else deb.debian.org."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split(":", 1)[1].strip()
    return DEFAULT_MIRROR


APP_INPUTS = ["Dockerfile", ".dockerignore", "requirements.lock", "shared", "services", "devstack"]


def app_image(engine: Engine) -> str:
    """The project's image (``$FILESERVICE_IMAGE`` if set, else ``fileservice:dev`` built from the
    Dockerfile on the Python base); rebuilt only when its inputs changed."""
    override = os.environ.get(APP_IMAGE_ENV)
    if override:
        return override
    base = python_base(engine)
    paths = [ROOT / p for p in APP_INPUTS if (ROOT / p).exists()]
    digest = _digest(base.encode(), *_tree_bytes(paths))
    current = engine.run(
        "image", "inspect", "--format", '{{ index .Config.Labels "' + LABEL + '" }}', APP_IMAGE, check=False
    )
    if current.returncode == 0 and current.stdout.strip() == digest:
        return APP_IMAGE
    previous = engine.run("image", "inspect", "--format", "{{.Id}}", APP_IMAGE, check=False).stdout.strip()
    log(f"building {APP_IMAGE} on {base}")
    build(engine, APP_IMAGE, ROOT, build_args={"PYTHON_IMAGE": base}, labels={LABEL: digest})
    if previous and current.stdout.strip() not in {"", "<no value>"}:  # the build it replaces was ours (our label)
        engine.run("image", "rm", previous, check=False)  # kept while a container still uses it
    return APP_IMAGE


def stack_images(engine: Engine) -> dict[str, str]:
    """Every image the compose stack needs, as the environment compose.yaml reads."""
    images = {IMAGES[name].env: image_for(engine, name) for name in ("rabbitmq", "seaweedfs", "postgres")}
    images[APP_IMAGE_ENV] = app_image(engine)
    return images
