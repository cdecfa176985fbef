"""The Dockerfile, .dockerignore and requirements.lock, checked without a Docker engine."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.entrypoints import ROOT, SERVICES, check_command, is_entry_point

DOCKERFILES = sorted(ROOT.glob("**/Dockerfile*"), key=str)
DOCKERFILES = [p for p in DOCKERFILES if ".venv" not in p.parts and "node_modules" not in p.parts]
# The stand-ins for upstream images (deploy/images/, built where no registry answers): hadolint only;
# they are not the image we ship.
STANDINS = [p for p in DOCKERFILES if p.is_relative_to(ROOT / "deploy" / "images")]
DOCKERFILES = [p for p in DOCKERFILES if p not in STANDINS]


def hadolint() -> str:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint") or pytest.fail("hadolint missing: make install")


def stages(dockerfile: Path) -> list[list[str]]:
    """The instructions of each stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def test_there_is_a_dockerfile() -> None:
    assert ROOT / "Dockerfile" in DOCKERFILES
    assert {p.parent.name for p in STANDINS} == {"rabbitmq", "postgres", "seaweedfs"}


def test_the_build_secret_never_becomes_a_layer() -> None:
    """The proxy's CA reaches pip as a build secret (mounted for one RUN), never COPY or ENV."""
    text = (ROOT / "Dockerfile").read_text()
    assert "--mount=type=secret,id=pip-ca" in text
    assert "PIP_CERT" not in "".join(line for line in text.splitlines() if line.startswith(("ENV", "ARG", "COPY")))


@pytest.mark.parametrize("dockerfile", DOCKERFILES + STANDINS, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run([hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def image_problems(dockerfile: Path) -> list[str]:
    """What keeps a Dockerfile from the image we want; empty when it is right."""
    problems: list[str] = []
    all_stages = stages(dockerfile)
    text = dockerfile.read_text()
    if len(all_stages) < 2:
        problems.append("not multi-stage")
    if not re.search(r"FROM python:3\.11-slim|PYTHON_IMAGE=python:3\.11-slim", text):
        problems.append("not a slim Python 3.11 base")
    if "-r requirements.lock" not in text or "--no-deps" not in text:
        problems.append("dependencies not from the lock alone")
    final = all_stages[-1] if all_stages else []
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    if not users or not re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]):
        problems.append(f"no numeric non-root USER: {users}")
    runs = " ".join(line for line in final if line.upper().startswith("RUN "))
    problems += [
        f"runtime stage runs {tool}"
        for tool in ("gcc", "build-essential", "apt-get install", "pip install")
        if tool in runs
    ]
    commands = [line for line in final if line.split()[0].upper() in {"CMD", "ENTRYPOINT"}]
    if not commands:
        problems.append("no CMD")
    for line in commands:
        try:
            exec_form = json.loads(line.split(None, 1)[1])
        except json.JSONDecodeError:
            exec_form = None
        if not isinstance(exec_form, list):
            problems.append(f"not exec form: {line}")
            continue
        try:
            check_command(exec_form)
        except AssertionError as exc:
            problems.append(str(exc))
    return problems


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_image_shape(dockerfile: Path) -> None:
    assert image_problems(dockerfile) == []


BAD_DOCKERFILE = """\
FROM python:3.12
RUN apt-get update && apt-get install -y --no-install-recommends gcc && pip install .
USER app
CMD python -m services.gateway
"""


def test_a_bad_dockerfile_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    problems = image_problems(bad)
    assert "not multi-stage" in problems and "not a slim Python 3.11 base" in problems
    assert "dependencies not from the lock alone" in problems
    assert "runtime stage runs gcc" in problems and "runtime stage runs pip install" in problems
    assert any(p.startswith("no numeric non-root USER") for p in problems)
    assert any(p.startswith("not exec form") for p in problems)
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "DL3025" in result.stdout  # hadolint wants exec form too
    bad.write_text(BAD_DOCKERFILE.replace("CMD python -m services.gateway", 'CMD ["python", "-m", "services.nope"]'))
    assert any("names no entry point" in p for p in image_problems(bad))


def test_every_service_has_an_entry_point() -> None:
    for name in SERVICES:
        assert is_entry_point(f"services.{name}"), name
    assert is_entry_point("devstack")
    assert not is_entry_point("services.nothing_here")
    assert not is_entry_point("shared.settings")  # a module without a main guard


def test_the_migration_command_is_an_entry_point() -> None:
    assert is_entry_point("services.gateway.migrate")


def test_dockerignore_keeps_the_build_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[[line.strip() for line in lines].index("*")] == "*", "everything is excluded by default"
    for needed in ("!requirements.lock", "!shared/", "!services/"):
        assert needed in lines


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"the lock pins exact versions: {line}"
            pins[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def test_the_lock_covers_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _lock()
    for entry in project["dependencies"]:
        requirement = Requirement(entry)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}: run make lock"
        )


def test_the_lock_holds_what_the_tests_run_with() -> None:
    """bootstrap.sh installs with the lock as constraints, so the tested versions are the shipped ones."""
    from importlib.metadata import PackageNotFoundError, version

    for name, pinned in _lock().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # a dependency of another platform
        assert installed == pinned, f"{name}: {installed} installed, {pinned} locked: make install"
