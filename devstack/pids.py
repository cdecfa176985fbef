"""Whether a process still runs, by pid (the podman service, the parent of the health ticker)."""

from __future__ import annotations

import contextlib
import os


def alive(pid: int) -> bool:
    """True while ``pid`` runs (also when it is another user's); a zombie child of ours is reaped
    and counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):  # not our child: nothing to reap
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True
