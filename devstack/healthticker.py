"""``python -m devstack.healthticker --parent PID``: runs the health checks podman 4.3 does not run.

podman schedules health checks with systemd timers; without systemd (these machines) a container's
health stays ``starting`` for ever and compose's ``depends_on: service_healthy`` never passes. This
runs ``podman healthcheck run`` for the running containers of the project's compose stacks (project
names starting with ``fileservice``): every ``FAST`` seconds while a container is starting, at its
own interval once it is healthy or unhealthy. It exits when the podman service ``PID`` is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import time

from devstack.pids import alive

PROJECT_LABEL = "com.docker.compose.project"
PREFIX = "fileservice"
FAST = 1.0
SLOW_DEFAULT = 10.0


def running_checked() -> dict[str, tuple[str, float]]:
    """id -> (health status, interval in seconds) of our running containers that have a health check."""
    result = subprocess.run(
        ["podman", "ps", "-q", "--no-trunc", "--filter", f"label={PROJECT_LABEL}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    ids = result.stdout.split()
    if not ids:
        return {}
    inspected = subprocess.run(
        ["podman", "inspect", "--type", "container", *ids], capture_output=True, text=True, check=False, timeout=30
    )
    try:
        containers = json.loads(inspected.stdout or "[]")
    except ValueError:
        return {}
    found: dict[str, tuple[str, float]] = {}
    for container in containers:
        config = container.get("Config") or {}
        project = (config.get("Labels") or {}).get(PROJECT_LABEL, "")
        check = config.get("Healthcheck") or {}
        test = check.get("Test") or []
        if not project.startswith(PREFIX) or not test or test[0] == "NONE":
            continue
        health = (container.get("State") or {}).get("Health") or (container.get("State") or {}).get("Healthcheck")
        status = (health or {}).get("Status") or "starting"
        interval = (check.get("Interval") or 0) / 1e9 or SLOW_DEFAULT
        found[container["Id"]] = (status, interval)
    return found


def tick_forever(parent: int) -> None:
    last_run: dict[str, float] = {}
    while alive(parent):
        now = time.monotonic()
        for cid, (status, interval) in running_checked().items():
            period = FAST if status in {"starting", ""} else interval
            if now - last_run.get(cid, 0.0) >= period:
                last_run[cid] = now
                with contextlib.suppress(subprocess.TimeoutExpired):
                    subprocess.run(
                        ["podman", "healthcheck", "run", cid],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        check=False,
                        timeout=60,
                    )
        time.sleep(FAST)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.healthticker")
    parser.add_argument("--parent", type=int, required=True, help="exit when this process (podman's API) is gone")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        tick_forever(args.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
