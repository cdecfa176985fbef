"""Whether testcontainers can be used: a Docker engine answers, or the reason it does not.

Asked once per provisioning layer (broker and S3 in ``devstack.infra``, PostgreSQL in
``devstack.database``), so both take their components from the same place.
"""

from __future__ import annotations


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker  # a dev extra (testcontainers brings it); the image has no Docker engine to ask

        client = docker.from_env(timeout=3)
        client.ping()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means no engine
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"
