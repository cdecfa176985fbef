"""``fileservice``: upload, list, show, link, tag and delete files from a terminal.

Start-up stays fast: only argparse is imported before a command runs; the client (and httpx) when
one does. Human output by default, ``--json`` for programs; errors go to stderr with their stable
code, exit status 1 (2 for bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fileservice.client import Client
    from fileservice.models import File

EPILOG = (
    "Defaults: FILESERVICE_GATEWAY (else http://127.0.0.1:8000, `make run`'s gateway) and FILESERVICE_TOKEN "
    "(else, for a gateway on this machine, a dev token signed with the dev stack's secret)."
)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--gateway", default=argparse.SUPPRESS, help="gateway URL (FILESERVICE_GATEWAY)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="bearer token (FILESERVICE_TOKEN)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    top = argparse.ArgumentParser(prog="fileservice", description=__doc__.split("\n")[0], epilog=EPILOG)
    top.add_argument("--gateway", default=None, help="gateway URL (FILESERVICE_GATEWAY)")
    top.add_argument("--token", default=None, help="bearer token (FILESERVICE_TOKEN)")
    top.add_argument("--json", action="store_true", default=False, help="print JSON")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("upload", parents=[common], help="upload files (multipart above 16 MiB)")
    up.add_argument("paths", nargs="+", metavar="PATH")
    up.add_argument("--name", help="the file's name (one PATH only; default: its file name)")
    up.add_argument("--tag", "-t", action="append", dest="tags", default=[], help="a tag (repeatable)")
    up.add_argument("--type", dest="content_type", help="MIME type (default: guessed from the name)")
    up.add_argument("--no-progress", action="store_true", help="no progress bar")
    up.add_argument("--quiet", "-q", action="store_true", help="print the ids only")

    ls = sub.add_parser("ls", parents=[common], help="list files, newest first")
    ls.add_argument("--search", "-s", help="a part of the name")
    ls.add_argument("--type", dest="types", action="append", help="MIME type or image/* (repeatable)")
    ls.add_argument("--tag", "-t", dest="tags", action="append", help="must carry this tag (repeatable)")
    ls.add_argument("--any-tag", dest="tag_in", action="append", help="carries one of these (repeatable)")
    ls.add_argument("--created-by", help="the uploader's id")
    ls.add_argument("--limit", "-n", type=int, default=40, help="at most this many (default 40)")
    ls.add_argument("--all", action="store_true", help="every file, page after page")
    ls.add_argument("--quiet", "-q", action="store_true", help="print the ids only")

    get = sub.add_parser("get", parents=[common], help="show a file's record, or download it with -o")
    get.add_argument("file", metavar="ID|KEY")
    get.add_argument("--output", "-o", help="download to this path ('-' for stdout)")
    get.add_argument("--width", "-w", type=int, help="an image's width (snapped to the allowed widths)")
    get.add_argument("--format", "-f", help="jpeg, png, webp or avif")
    get.add_argument("--no-progress", action="store_true", help="no progress bar")

    url = sub.add_parser("url", parents=[common], help="print a file's download URL")
    url.add_argument("file", metavar="ID|KEY")
    url.add_argument("--width", "-w", type=int, help="an image's width (snapped to the allowed widths)")
    url.add_argument("--format", "-f", help="jpeg, png, webp or avif")

    tag = sub.add_parser("tag", parents=[common], help="change a file's tags (or name)")
    tag.add_argument("file", metavar="ID")
    tag.add_argument("--add", "-a", action="append", default=[], help="add a tag (repeatable)")
    tag.add_argument("--remove", "-r", action="append", default=[], help="remove a tag (repeatable)")
    tag.add_argument("--set", nargs="*", dest="set_tags", help="replace every tag with these")
    tag.add_argument("--name", help="rename the file")

    rm = sub.add_parser("rm", parents=[common], help="delete files (their variants go too)")
    rm.add_argument("files", nargs="+", metavar="ID")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from fileservice.client import Client
    from fileservice.errors import FileServiceError

    try:
        with Client(args.gateway, args.token) as client:
            return COMMANDS[args.command](client, args)
    except FileServiceError as error:
        if args.json:
            print(json.dumps({"error": error.to_dict()}), file=sys.stderr)
        else:
            print(f"fileservice: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"fileservice: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def upload(client: Client, args: argparse.Namespace) -> int:
    if args.name and len(args.paths) > 1:
        raise ValueError("--name takes one PATH")
    done = []
    for path in args.paths:
        bar = Bar(args.name or os.path.basename(path), enabled=not args.no_progress)
        file = client.upload(path, name=args.name, tags=args.tags or None, content_type=args.content_type, progress=bar)
        bar.finish()
        done.append(file)
        if not args.json:
            print(file.id if args.quiet else _line(file))
    if args.json:
        _print_json([f.to_dict() for f in done] if len(done) > 1 else done[0].to_dict())
    return 0


def ls(client: Client, args: argparse.Namespace) -> int:
    where: dict[str, Any] = {}
    if args.tag_in:
        where["tag_in"] = args.tag_in
    if args.created_by:
        where["createdBy"] = args.created_by
    limit = max(1, min(args.limit, 100))
    filters: dict[str, Any] = {"search": args.search, "types": args.types, "tags": args.tags, "where": where or None}
    files = client.files(limit=limit, max_items=None if args.all else args.limit, **filters)
    if args.json:
        _print_json([f.to_dict() for f in files])
    else:
        for file in files:
            print(file.id if args.quiet else _line(file))
    return 0


def get(client: Client, args: argparse.Namespace) -> int:
    file = _file(client, args.file)
    if args.output is None:
        if args.width is not None or args.format is not None:
            raise ValueError("--width/--format need --output")
        if args.json:
            _print_json(file.to_dict())
        else:
            for name, value in file.to_dict().items():
                print(f"{name:10} {value if not isinstance(value, list) else ', '.join(value)}")
        return 0
    bar = Bar(file.name, enabled=not args.no_progress and args.output != "-")
    if args.output == "-":
        data = client.download(file, width=args.width, format=args.format)
        assert isinstance(data, bytes)
        sys.stdout.buffer.write(data)
        return 0
    path = client.download(file, args.output, width=args.width, format=args.format, progress=bar)
    bar.finish()
    if args.json:
        _print_json({"file": file.to_dict(), "path": str(path), "url": client.url(file, args.width, args.format)})
    else:
        print(path)
    return 0


def url(client: Client, args: argparse.Namespace) -> int:
    link = client.url(args.file, args.width, args.format)
    if args.json:
        _print_json({"url": link})
    else:
        print(link)
    return 0


def tag(client: Client, args: argparse.Namespace) -> int:
    file = client.get(args.file)
    tags = list(args.set_tags) if args.set_tags is not None else list(file.tags)
    removed = {t.strip().lower() for t in args.remove}
    tags = [t for t in tags + args.add if t.strip().lower() not in removed]
    updated = client.update(file, tags=tags, name=args.name)
    if args.json:
        _print_json(updated.to_dict())
    else:
        print(_line(updated))
    return 0


def rm(client: Client, args: argparse.Namespace) -> int:
    results = {}
    for ref in args.files:
        results[ref] = client.delete(ref)
        if not args.json:
            print(f"deleted {ref}")
    if args.json:
        _print_json({"deleted": [ref for ref, ok in results.items() if ok]})
    return 0


COMMANDS = {"upload": upload, "ls": ls, "get": get, "url": url, "tag": tag, "rm": rm}


def _file(client: Client, ref: str) -> File:
    if "/" in ref:  # a key: find its record by its id part
        return client.get(ref.split("/", 1)[0])
    return client.get(ref)


def _line(file: File) -> str:
    tags = f"  [{', '.join(file.tags)}]" if file.tags else ""
    return f"{file.id}  {_size(file.size or 0):>9}  {file.type or '-':24}  {file.name}{tags}\n    {file.src}"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Bar:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    WIDTH = 28

    def __init__(self, label: str, *, enabled: bool = True, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.label = label if len(label) <= 30 else label[:27] + "..."
        self.started = time.monotonic()
        self.shown = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.shown < 0.1 and done < total):
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-6)
        if total:
            filled = int(self.WIDTH * done / total)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            text = f"\r{self.label:30} [{bar}] {100 * done / total:5.1f}% {_size(done)}/{_size(total)} {_size(rate)}/s"
        else:
            text = f"\r{self.label:30} {_size(done)} {_size(rate)}/s"
        self.stream.write(text + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


if __name__ == "__main__":
    sys.exit(main())
