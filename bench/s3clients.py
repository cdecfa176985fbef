"""S3 clients compared: CPU per call of boto3, aiobotocore and obstore for the hot calls.

The three calls a cold request makes (HEAD, GET of an original or a variant, PUT of a variant),
each client against the same private SeaweedFS, one call at a time (``bench/s3clients_probe.py``).
The clients live in their own virtualenv, ``.bench/s3clients-venv`` (aiobotocore pins its own
botocore), made here when missing; the smoke run uses the project's (boto3 and obstore only).

    .venv/bin/python -m bench.s3clients [--smoke]
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from bench.common import ROOT, WORK, Options, parse_options, table
from devstack.infra import provide_infra
from devstack.seaweed import ensure_bucket

VENV = WORK / "s3clients-venv"
PACKAGES = ("obstore==0.12.1", "aiobotocore==3.10.0")
PROBE = ROOT / "bench" / "s3clients_probe.py"
OPERATIONS = ("HEAD", "GET 700 KB", "GET 100 KB", "PUT 100 KB")
BASELINE = "boto3 (on an executor thread)"


def python() -> str:
    """The virtualenv's Python, made (with the three clients) when missing."""
    interpreter = VENV / "bin" / "python"
    if not (VENV / ".installed").exists():
        print(f"bench: installing {', '.join(PACKAGES)} and boto3 into {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(interpreter), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *PACKAGES, "boto3"], check=True)
        (VENV / ".installed").touch()
    return str(interpreter)


def run(options: Options, shared: dict[str, object] | None = None) -> str:
    interpreter = sys.executable if options.smoke else python()
    calls = 20 if options.smoke else 300
    with provide_infra() as infra:
        bucket = f"s3clients-{uuid.uuid4().hex[:8]}"
        ensure_bucket(infra.s3_endpoint_url, bucket)
        out = subprocess.run(
            [interpreter, str(PROBE), "--endpoint", infra.s3_endpoint_url, "--bucket", bucket, "--calls", str(calls)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    report = json.loads(out)
    results: dict[str, dict[str, float]] = report["results"]
    versions = ", ".join(f"{name} {v}" for name, v in report["versions"].items())
    base = results[BASELINE]
    rows = [[name, *(f"{ms[op]:.2f} ({ms[op] / base[op]:.2f}x)" for op in OPERATIONS)] for name, ms in results.items()]
    if shared is not None:
        shared["s3clients"] = results
    light = results.get("obstore", {})
    saved = sum(base[op] - light.get(op, base[op]) for op in ("HEAD", "GET 700 KB", "PUT 100 KB"))
    return "\n".join(
        [
            "## 1b. S3 clients: CPU per call for the hot calls",
            "",
            f"{calls} calls of each kind per client, one at a time after a warm-up, against one private SeaweedFS; "
            "CPU time of the probe process (every thread: boto3's executor, obstore's Rust runtime) per call, "
            f"and against boto3. {versions}. boto3 runs as the services ran it: each call on an executor "
            "thread, awaited from asyncio.",
            "",
            table(["client", *(f"{op} CPU ms (vs boto3)" for op in OPERATIONS)], rows),
            "",
            f"- the three calls of a cold request (HEAD, GET of the original, PUT of the variant): obstore saves "
            f"{saved:.1f} ms of CPU against boto3; the services use obstore for HEAD, whole GETs and PUTs "
            "(`shared/s3_hot.py`), boto3 for pre-signing, multipart, listing, deletes and ranged streams.",
        ]
    )


def main() -> None:
    print(run(parse_options(__doc__ or "")))


if __name__ == "__main__":
    main()
