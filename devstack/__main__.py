"""``python -m devstack run``: the whole file service on this machine (what ``make run`` calls).

Uses the RabbitMQ that answers on 5672 (or installs and starts Debian's), the PostgreSQL that
answers on 5432 (or installs Debian's and starts a private cluster in ``.data/postgres``) with the
database ``files`` created and migrated, and the SeaweedFS that answers on 8333 (or starts one with
its data under ``.data/seaweedfs``); creates the bucket, starts the five services as separate
processes, waits until each answers ``/readyz``, prints the URLs and a dev token, and on Ctrl-C
(or SIGTERM) stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from devstack import postgres, rabbit
from devstack.ports import port_open
from devstack.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS, SeaweedPorts, ensure_bucket, ensure_bucket_with
from devstack.services import SERVICE_NAMES, StackPorts, stack_env, started, the_five
from services.gateway.catalog.config import DEFAULT_DATABASE_URL
from services.gateway.catalog.migrate import migrate

DATA_DIR = Path(".data")
DATABASE_URL = DEFAULT_DATABASE_URL


def run(bucket: str) -> int:
    ports = StackPorts()
    busy = [f"{n}:{ports.of(n)}" for n in SERVICE_NAMES if port_open(ports.of(n))]
    if busy:
        print(f"ports already in use ({', '.join(busy)}): is another `make run` still running?")
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    DATA_DIR.mkdir(exist_ok=True)
    print("RabbitMQ: ", end="", flush=True)
    rabbit.ensure_rabbitmq()
    print("amqp://guest:guest@127.0.0.1:5672/")
    print("PostgreSQL: ", end="", flush=True)
    postgres.ensure_postgresql(DATA_DIR / "postgres")
    asyncio.run(migrate(DATABASE_URL))
    print(f"{DATABASE_URL} (migrated)")

    seaweed_ports = SeaweedPorts()
    seaweed: SeaweedFS | None = None
    try:
        if port_open(seaweed_ports.s3):
            print(f"SeaweedFS: reusing the one on {seaweed_ports.s3_endpoint_url}")
        else:
            seaweed = SeaweedFS((DATA_DIR / "seaweedfs").resolve(), seaweed_ports)
            print(f"SeaweedFS: starting (data in {seaweed.data_dir}) ... ", end="", flush=True)
            seaweed.start()
            print(seaweed_ports.s3_endpoint_url)
        ensure_bucket(seaweed_ports.s3_endpoint_url, bucket)
        env = stack_env(
            amqp_url="amqp://guest:guest@127.0.0.1:5672/",
            s3_endpoint_url=seaweed_ports.s3_endpoint_url,
            bucket=bucket,
            filer_address=seaweed_ports.filer_address,
            ports=ports,
            data_dir=DATA_DIR.resolve(),
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            database_url=DATABASE_URL,
            extra={"LOG_FORMAT": "console" if sys.stdout.isatty() else "json"},
        )
        services = the_five(env, ports, console=True).values()
        with started(services, timeout=90, stop=stop) as ready:
            try:
                if not ready:
                    return 0  # Ctrl-C while starting
                print_banner(ports, bucket)
                while not stop.wait(1.0):
                    dead = [s.name for s in services if not s.alive()]
                    if dead:
                        print(f"service exited: {', '.join(dead)}; stopping")
                        return 1
                return 0
            finally:
                print("stopping services ...")
    finally:
        if seaweed is not None:
            print("stopping SeaweedFS ...")
            seaweed.stop()
        print("stopped")


def print_banner(ports: StackPorts, bucket: str) -> None:
    from services.gateway.devtoken import mint_token

    token = mint_token("dev-secret")
    print(
        f"""
The file service is ready.
  File Manager      http://127.0.0.1:{ports.gateway}/   (signs itself in with the dev token)
  GraphQL gateway   http://127.0.0.1:{ports.gateway}/graphql
  downloads         http://127.0.0.1:{ports.download}/files/{{key}}   (?width=300 for an image variant)
  S3 (SeaweedFS)    http://127.0.0.1:8333   bucket {bucket}, access key {ACCESS_KEY}
  health            http://127.0.0.1:{{8000..8004}}/readyz, /metrics
Dev token (scope files:*, 24 h):
  export TOKEN={token}
Ctrl-C stops everything this command started.
""",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd = sub.add_parser("run", help="start the whole stack in the foreground")
    run_cmd.add_argument("--bucket", default="files")
    sub.add_parser("bucket", help="create S3_BUCKET at S3_ENDPOINT_URL unless it exists (containers, Jobs)")
    args = parser.parse_args()
    if args.command == "run":
        return run(args.bucket)
    if args.command == "bucket":
        return create_bucket()
    return 2


def create_bucket() -> int:
    """The bucket of the S3 settings in the environment (a Kubernetes Job, compose's set-up step)."""
    from shared.s3 import make_client
    from shared.settings import CommonSettings

    settings = CommonSettings()
    try:
        ensure_bucket_with(make_client(settings), settings.s3_bucket)
    except Exception as exc:  # noqa: BLE001 - the Job retries; say why it failed
        print(f"bucket {settings.s3_bucket!r} at {settings.s3_endpoint_url or 'AWS S3'}: {exc}", file=sys.stderr)
        return 1
    print(f"bucket {settings.s3_bucket!r} is there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
