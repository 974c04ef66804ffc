"""``store-gateway users``: the users of the page and the API, kept on the box.

    store-gateway users list    --config FILE [--json]
    store-gateway users add     NAME --role ROLE --config FILE  (the password on stdin or asked)
    store-gateway users passwd  NAME --config FILE              (likewise)
    store-gateway users role    NAME ROLE --config FILE
    store-gateway users disable NAME --config FILE      (and enable)
    store-gateway users remove  NAME --config FILE
    store-gateway users reset-second-factor NAME --config FILE

A running daemon makes the change itself (through its local socket: its sessions of the
user end at once, the change is audited); a stopped gateway's database is changed
directly and the daemon reads it at its next start.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from gateway.web.local_api import SOCKET_NAME

ACTIONS = ("list", "add", "passwd", "role", "disable", "enable", "remove", "reset-second-factor")
ROLES = ("viewer", "technician", "admin")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    helps = {
        "list": "list the users",
        "add": "add a user (the password on stdin or asked)",
        "passwd": "set a user's password (on stdin or asked)",
        "role": "change a user's role",
        "disable": "stop a user from signing in (their sessions end)",
        "enable": "let a disabled user sign in again",
        "remove": "remove a user",
        "reset-second-factor": "make a user set up their second factor again",
    }
    for action in ACTIONS:
        p = sub.add_parser(action, help=helps[action], description=helps[action])
        p.add_argument("--config", required=True, type=Path, help="the gateway's TOML config")
        if action != "list":
            p.add_argument("name", help="the user")
        if action == "role":
            p.add_argument("value", choices=ROLES, metavar="ROLE", help=", ".join(ROLES))
        if action == "add":
            p.add_argument("--role", required=True, choices=ROLES, help="the user's role")
        if action in ("add", "passwd"):
            p.add_argument("--stdin", action="store_true", help="read the password from stdin")
        if action == "list":
            p.add_argument("--json", action="store_true", help="JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from gateway.config.load import EX_CONFIG, load_or_report

    config = load_or_report(args.config)
    if config is None:
        return EX_CONFIG
    name = getattr(args, "name", None)
    body: dict[str, Any] = {"action": args.action, "name": name, "actor": _actor()}
    if args.action == "add":
        body["role"] = args.role
    if args.action == "role":
        body["role"] = args.value
    if args.action in ("add", "passwd"):
        body["password"] = _password(args.stdin)
    data_dir = Path(config.data_dir)
    socket_path = data_dir / SOCKET_NAME
    answer = asyncio.run(_ask(socket_path, body)) if socket_path.exists() else None
    if answer is None:
        from gateway.access.users import Seed

        seeds = [Seed(u.name, u.role, u.password_hash) for u in config.web.users]
        try:
            if not (data_dir / "gateway.db").exists():
                raise sqlite3.OperationalError(f"{data_dir / 'gateway.db'} does not exist")
            answer = asyncio.run(_offline(data_dir / "gateway.db", body, seeds))
        except sqlite3.Error as exc:
            print(
                f"store-gateway users: no running daemon and no usable database in {data_dir} "
                f"({exc}); start the gateway once with this config",
                file=sys.stderr,
            )
            return 1
    if "error" in answer:
        print(f"store-gateway users: {answer['error']}", file=sys.stderr)
        return 1
    if args.action == "list":
        _print(answer["users"], args.json)
    else:
        print(f"store-gateway users: {answer['done']}")
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        print("store-gateway users: the two passwords differ; nothing was changed", file=sys.stderr)
        raise SystemExit(1)
    return first


async def _ask(socket_path: Path, body: dict[str, Any]) -> dict[str, Any] | None:
    import aiohttp

    try:
        connector = aiohttp.UnixConnector(path=str(socket_path))
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.post("http://localhost/api/users", json=body) as resp,
        ):
            answer = await resp.json()
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def _actor() -> str | None:
    """Who runs the command (the audit's actor): the person behind sudo, else the login."""
    import os

    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        return None


async def _offline(path: Path, body: dict[str, Any], seeds: list[Any]) -> dict[str, Any]:
    """The change made on a stopped gateway's database, through the same store (the
    same checks), which seeds an empty table from the configuration first. Audited
    there; the daemon tells the cloud at its next start."""
    import time

    from gateway.access.audit import Entry, record_offline
    from gateway.access.users import UserStore, apply
    from gateway.store import Database

    db = Database(path)
    await db.open()
    try:
        users = UserStore(db, seeds)
        await users.load()

        async def record(entry: Entry) -> None:
            now = time.time()
            await db.run(lambda d: record_offline(d, entry, now))

        return await apply(users, body, record)
    finally:
        await db.close()


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    from gateway.cli import print_table

    if as_json:
        print(json.dumps({"users": rows}, indent=2))
        return
    print_table(
        ("USER", "ROLE", "STATE", "SECOND FACTOR", "PASSWORD SET"),
        [
            (
                r["name"],
                r["role"],
                "disabled" if r["disabled"] else "active",
                "yes" if r["second_factor"] else "no",
                r["password_at"],
            )
            for r in rows
        ],
    )
