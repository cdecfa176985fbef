"""``python -m services.deadletters``: what is dead-lettered and why, and moving it back.

    python -m services.deadletters list [--queue QUEUE]
    python -m services.deadletters replay (--all | --id ID ...) [--queue QUEUE] [--rate N] [--limit N]

``QUEUE`` is a work queue (``catalog.events``, ``cleanup``, ``resize.requests``); without it every
dead-letter queue is listed (``bridge.dead`` too, whose parked notifications cannot go back) or
replayed. Each dead letter is printed as one JSON line; the summary goes last. The broker comes
from ``AMQP_URL``, as for every service; ``REPLAY_RATE`` (messages per second) bounds a replay.
docs/operations.md says when to replay and what to look at first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from services.deadletters.plan import LIST_ONLY, REPLAYABLE, DeadLetter
from services.deadletters.replay import sweep
from services.deadletters.settings import DeadLetterSettings
from shared.broker import connect
from shared.logging import configure_logging
from shared.runtime import load_settings

NAME = "deadletters"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m services.{NAME}", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print every dead letter and why it died (nothing moves)")
    listing.add_argument("--queue", choices=[*REPLAYABLE, *LIST_ONLY], help="one work queue (default: all)")
    replay = commands.add_parser("replay", help="move dead letters back to the queue they died in")
    replay.add_argument("--queue", choices=REPLAYABLE, help="one work queue (default: all)")
    chosen = replay.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--all", action="store_true", help="every dead letter of the queue(s)")
    chosen.add_argument("--id", action="append", dest="ids", metavar="ID", help="a dead letter's id (repeatable)")
    replay.add_argument("--rate", type=float, help="messages per second at most (default: REPLAY_RATE)")
    replay.add_argument("--limit", type=int, help="move at most this many per queue")
    return parser.parse_args(argv)


async def run(settings: DeadLetterSettings, args: argparse.Namespace) -> int:
    replaying = args.command == "replay"
    queues = [args.queue] if args.queue else [*REPLAYABLE, *([] if replaying else LIST_ONLY)]
    ids = set(getattr(args, "ids", None) or [])
    rate = args.rate if replaying and args.rate else settings.replay_rate

    def choose(letter: DeadLetter) -> bool:
        return replaying and (getattr(args, "all", False) or letter.id in ids)

    connection = await connect(settings.amqp_url.get_secret_value(), name=f"{NAME}-{args.command}")
    summary: dict[str, dict[str, int]] = {}
    moved_ids: set[str] = set()
    try:
        for queue in queues:
            result = await sweep(
                connection, queue, choose, rate=rate, limit=getattr(args, "limit", None), movable=queue in REPLAYABLE
            )
            for letter in result.seen:
                moved = any(letter is m for m in result.moved)
                print(json.dumps({"dead_queue": result.dead_queue, **letter.to_dict(), "moved": moved}))
            summary[result.dead_queue] = {"depth": result.depth, "moved": len(result.moved)}
            moved_ids |= {letter.id for letter in result.moved}
    finally:
        await connection.close()
    print(json.dumps({"summary": summary}))
    missing = sorted(ids - moved_ids)
    if missing:
        print(f"{NAME}: not found in the dead-letter queues: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings(NAME, DeadLetterSettings)
    configure_logging(NAME, settings.log_level, settings.log_format)
    return asyncio.run(run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
