"""Free loopback ports for tests (the same helper ``make run`` uses)."""

from devstack.ports import free_port, free_ports, wait_for_port

__all__ = ["free_port", "free_ports", "wait_for_port"]
