"""The ``fileservice`` command against the running services, as a shell script would use it."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from fileservice.cli import Bar
from PIL import Image

from devstack.photos import jpeg_bytes
from devstack.stack import RunningStack
from tests.support.tokens import token


def run(cli: str, env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def as_json(cli: str, env: dict[str, str], *args: str) -> Any:
    return json.loads(run(cli, env, *args, "--json").stdout)


def test_upload_list_show_link_tag_and_delete(cli: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    photo = tmp_path / "sunset.jpg"
    photo.write_bytes(jpeg_bytes(1000, 750, seed=4))
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the sunset\n")

    up = as_json(cli, cli_env, "upload", str(photo), "--tag", "Holiday", "-t", "sea")
    assert (up["name"], up["type"], up["size"], up["tags"]) == (
        "sunset.jpg",
        "image/jpeg",
        photo.stat().st_size,
        ["holiday", "sea"],
    )
    both = as_json(cli, cli_env, "upload", str(notes), str(photo))
    assert [f["name"] for f in both] == ["notes.txt", "sunset.jpg"]

    assert [f["id"] for f in as_json(cli, cli_env, "ls")] == [both[1]["id"], both[0]["id"], up["id"]]
    assert [f["id"] for f in as_json(cli, cli_env, "ls", "--tag", "holiday")] == [up["id"]]
    assert [f["id"] for f in as_json(cli, cli_env, "ls", "--type", "text/plain")] == [both[0]["id"]]
    assert [f["id"] for f in as_json(cli, cli_env, "ls", "--search", "SUN", "--limit", "1")] == [both[1]["id"]]
    assert len(as_json(cli, cli_env, "ls", "--limit", "1", "--all")) == 3, "--all follows the cursor"
    assert run(cli, cli_env, "ls", "-q", "--tag", "sea").stdout.split() == [up["id"]]
    quiet = run(cli, cli_env, "upload", str(notes), "-q", "--no-progress").stdout.strip()
    assert len(quiet) == 32 and run(cli, cli_env, "rm", quiet).stdout == f"deleted {quiet}\n"
    human = run(cli, cli_env, "ls").stdout
    assert up["id"] in human and "[holiday, sea]" in human and up["src"] in human

    assert as_json(cli, cli_env, "get", up["id"]) == up
    assert f"key        {up['key']}" in run(cli, cli_env, "get", up["id"]).stdout
    out = tmp_path / "small.jpg"
    got = as_json(cli, cli_env, "get", up["id"], "-o", str(out), "--width", "282")
    assert got["path"] == str(out) and got["url"] == up["src"] + "?width=300"
    assert Image.open(out).size == (300, 225)
    original = tmp_path / "original.jpg"
    run(cli, cli_env, "get", up["key"], "-o", str(original), "--no-progress")
    assert original.read_bytes() == photo.read_bytes()

    assert run(cli, cli_env, "url", up["id"], "-w", "282").stdout.strip() == up["src"] + "?width=300"
    assert as_json(cli, cli_env, "url", up["key"], "--width", "3000", "--format", "webp") == {
        "url": up["src"] + "?width=2500&format=webp"
    }

    tagged = as_json(cli, cli_env, "tag", up["id"], "--add", "Summer", "--remove", "holiday")
    assert tagged["tags"] == ["sea", "summer"]
    renamed = as_json(cli, cli_env, "tag", up["id"], "--set", "best", "--name", "best sunset.jpg")
    assert (renamed["tags"], renamed["name"]) == (["best"], "best sunset.jpg")

    assert as_json(cli, cli_env, "rm", up["id"], both[0]["id"]) == {"deleted": [up["id"], both[0]["id"]]}
    gone = run(cli, cli_env, "get", up["id"], "--json", ok=False)
    assert gone.returncode == 1 and json.loads(gone.stderr)["error"]["code"] == "NOT_FOUND"
    human_error = run(cli, cli_env, "get", up["id"], ok=False)
    assert human_error.stderr.startswith("fileservice: NOT_FOUND: ")


def test_flags_win_over_the_environment_and_refusals_exit_1(
    cli: str, client_stack: RunningStack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    bare = {k: v for k, v in os.environ.items() if not k.startswith("FILESERVICE_")}
    flags = ["--gateway", client_stack.gateway_url + "/graphql", "--token", token("files:*", sub="flags")]
    assert run(cli, bare, *flags, "ls", "--json").stdout.startswith("[")
    assert run(cli, bare, "ls", *flags, "--json").stdout.startswith("["), "after the command too"

    refused = run(cli, {**cli_env, "FILESERVICE_TOKEN": "bad"}, "ls", "--json", ok=False)
    assert refused.returncode == 1 and json.loads(refused.stderr)["error"]["code"] == "UNAUTHORIZED"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    invalid = run(cli, cli_env, "upload", str(empty), "--json", ok=False)
    assert json.loads(invalid.stderr)["error"]["code"] == "VALIDATION_FAILED"
    bad_width = run(cli, cli_env, "url", "abc/x.jpg", "--width", "0", ok=False)
    assert bad_width.returncode == 1 and "INVALID_WIDTH" in bad_width.stderr
    missing = run(cli, cli_env, "upload", str(tmp_path / "nope.bin"), ok=False)
    assert missing.returncode == 1 and "No such file" in missing.stderr
    assert run(cli, cli_env, "frobnicate", ok=False).returncode == 2


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_only() -> None:
    screen = Terminal()
    bar = Bar("video.mp4", stream=screen)
    bar(0, 100 * 1024**2)
    bar(100 * 1024**2, 100 * 1024**2)
    bar.finish()
    text = screen.getvalue()
    assert "video.mp4" in text and "100.0%" in text and "100.0 MiB/100.0 MiB" in text and text.endswith("\n")
    quiet = io.StringIO()
    silent = Bar("x", stream=quiet)
    silent(1, 2)
    silent.finish()
    assert quiet.getvalue() == ""
