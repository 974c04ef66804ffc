"""The durable command inbox: check, store, then acknowledge.

Checks, in this order (the first failing one names the ack's error code):

1. ``too-large``: the raw message exceeds ``max_bytes`` (checked before parsing);
2. ``bad-signature``: not a compact JWS signed by a trusted key — or, only when
   unsigned commands are allowed, not a bare JSON command either;
3. ``invalid``: not JSON, or not valid for the contract's command schema;
4. ``unsupported``: a ``type`` this gateway does not know;
5. ``wrong-target``: another store, or another gateway (``gateway_id`` null is
   every gateway of the store);
6. ``expired``: ``expires_at`` passed, or ``issued_at`` more than 300 s ahead;
7. ``replay``: an ``id`` already accepted, sent with different content. The
   same message again (an MQTT redelivery: identical bytes) is silently
   ignored — it was already acknowledged — and not executed twice.

A rejection changes no state. An accepted command is committed (with its
``accepted`` ack, in one transaction) before :meth:`Inbox.receive` returns, and
the transport acknowledges the MQTT message only after that.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import sqlite_utils
import structlog
from pydantic import ValidationError

from gateway.bridge import payloads
from gateway.bridge.outbox import Outbox, Outgoing
from gateway.commands.jws import BadSignature, verify
from gateway.commands.model import COMMAND, TYPES, Command
from gateway.contract import schema_errors
from gateway.contract.topics import Topics
from gateway.store import Database
from gateway.timeutil import parse_ts

if TYPE_CHECKING:
    from joserfc.jwk import OKPKey

log = structlog.get_logger("gateway.commands")

FUTURE_SKEW_S = 300.0
KEEP_AFTER_EXPIRY_S = 86400.0
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class InboxOptions:
    store_id: str
    gateway_id: str
    trusted_keys: Mapping[str, OKPKey]
    allow_unsigned: bool = False
    max_bytes: int = 256 * 1024


@dataclass(frozen=True)
class InboxResult:
    outcome: Literal["accepted", "rejected", "duplicate"]
    command: Command | None = None
    code: str | None = None
    message: str | None = None


class Rejected(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        command_id: str | None = None,
        command_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id
        self.command_type = command_type


Executor = Callable[[Command], Awaitable[None]]


class Inbox:
    def __init__(
        self,
        db: Database,
        identity: payloads.Identity,
        options: InboxOptions,
        outbox: Outbox,
        topics: Topics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._ident = identity
        self.options = options
        self._outbox = outbox
        self._topics = topics
        self._clock = clock
        self._executors: Mapping[str, Executor] = {}
        self.counts = {"accepted": 0, "rejected": 0, "duplicate": 0}

    def route(self, executors: Mapping[str, Executor]) -> None:
        """Who executes each command type: the table must name every type in ``TYPES``."""
        if set(executors) != set(TYPES):
            missing, extra = set(TYPES) - set(executors), set(executors) - set(TYPES)
            raise ValueError(f"executors missing for {missing or '-'}, unknown {extra or '-'}")
        self._executors = dict(executors)

    async def receive(self, raw: bytes) -> InboxResult:
        try:
            command, digest = self._check(raw)
            outcome = await self._db.run(lambda d: self._store(d, command, digest))
        except Rejected as rej:
            self.counts["rejected"] += 1
            await self._reject(rej)
            return InboxResult("rejected", code=rej.code, message=rej.message)
        except Exception:
            raise  # storage failed: no ack; the message is not PUBACKed and comes again
        if outcome == "duplicate":
            self.counts["duplicate"] += 1
            return InboxResult("duplicate", command)
        self.counts["accepted"] += 1
        self._outbox.produced()  # the accepted ack goes out now
        log.info("command accepted", command_id=command.id, type=command.type)
        await self.execute(command)
        return InboxResult("accepted", command)

    async def execute(self, command: Command) -> None:
        executor = self._executors.get(command.type)
        if executor is not None:
            await executor(command)

    # ---- checks ------------------------------------------------------------------------

    def _check(self, raw: bytes) -> tuple[Command, str]:
        return check_command(raw, self.options, self._clock())

    def _store(self, d: sqlite_utils.Database, command: Command, digest: str) -> str:
        row = d.execute("SELECT digest FROM commands WHERE id = ?", [command.id]).fetchone()
        if row is not None:
            if row[0] == digest:
                return "duplicate"
            raise Rejected(
                "replay", f"command id {command.id} was already used", command.id, command.type
            )
        now = self._clock()
        d.execute(
            "INSERT INTO commands (id, type, body, digest, received_at, expires_at, state) "
            "VALUES (?, ?, ?, ?, ?, ?, 'accepted')",
            [
                command.id,
                command.type,
                command.model_dump_json(by_alias=True),
                digest,
                now,
                parse_ts(command.expires_at).timestamp(),
            ],
        )
        # The accepted ack commits with the command: one cannot exist without the other.
        ack = payloads.ack(
            self._ident,
            command_id=command.id,
            command_type=command.type,
            status="accepted",
            now=now,
        )
        self._outbox.produce_in(d, [Outgoing("acks", self._topics.acks, ack)])
        # Prune ids well past expiry: an expired command is rejected before the replay check.
        d.execute(
            "DELETE FROM commands WHERE state = 'done' AND expires_at < ?",
            [now - KEEP_AFTER_EXPIRY_S],
        )
        return "accepted"

    async def _reject(self, rej: Rejected) -> None:
        now = self._clock()
        ack = payloads.ack(
            self._ident,
            command_id=rej.command_id,
            command_type=rej.command_type,
            status="rejected",
            now=now,
            error=(rej.code, rej.message),
        )
        event = payloads.event(
            self._ident,
            type="command.rejected",
            severity="warning",
            message=f"command {rej.command_id or '(unreadable)'} rejected: "
            f"{rej.code}: {rej.message}",
            now=now,
        )
        await self._outbox.produce(
            [
                Outgoing("acks", self._topics.acks, ack),
                Outgoing("events", self._topics.events, event),
            ]
        )
        log.warning(
            "command rejected", command_id=rej.command_id, code=rej.code, reason=rej.message
        )

    # ---- for executors ------------------------------------------------------------------

    async def pending(self) -> list[Command]:
        rows = await self._db.read(
            lambda d: d.execute(
                "SELECT body FROM commands WHERE state != 'done' ORDER BY received_at"
            ).fetchall()
        )
        return [COMMAND.validate_json(r[0]) for r in rows]

    async def mark(self, command_id: str, state: Literal["running", "done"]) -> None:
        await self._db.run(
            lambda d: d.execute("UPDATE commands SET state = ? WHERE id = ?", [state, command_id])
        )


def check_command(raw: bytes, o: InboxOptions, now: float) -> tuple[Command, str]:
    """Everything a command must pass before it is stored: size, signature, JSON, schema,
    type, target, time. Pure (no I/O), so it can be fuzzed. Returns the command and the
    digest of its bytes; raises :class:`Rejected` with the reason."""
    if len(raw) > o.max_bytes:
        raise Rejected("too-large", f"{len(raw)} bytes; the limit is {o.max_bytes}")
    stripped = raw.strip()
    if stripped.startswith(b"{"):
        if not o.allow_unsigned:
            raise Rejected("bad-signature", "unsigned command; this gateway requires a JWS")
        payload = stripped
    else:
        try:
            payload = verify(stripped, o.trusted_keys)
        except BadSignature as exc:
            raise Rejected("bad-signature", str(exc)) from None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("invalid", "the command is not JSON") from None
    command_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(command_id, str) or not _UUID.match(command_id):
        command_id = None
    command_type = data.get("type") if isinstance(data, dict) else None
    command_type = command_type if isinstance(command_type, str) else None
    errors = schema_errors("command", data)
    if errors:
        raise Rejected("invalid", "; ".join(errors[:5]), command_id, command_type)
    if command_type not in TYPES:
        raise Rejected(
            "unsupported",
            f"command type {command_type!r} is not supported",
            command_id,
            command_type,
        )
    try:
        command = COMMAND.validate_python(data)  # envelope and body, once
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Rejected("invalid", problems, command_id, command_type) from None
    if command.store_id != o.store_id:
        raise Rejected(
            "wrong-target",
            f"for store {command.store_id}, not {o.store_id}",
            command.id,
            command.type,
        )
    if command.gateway_id is not None and command.gateway_id != o.gateway_id:
        raise Rejected(
            "wrong-target",
            f"for gateway {command.gateway_id}, not {o.gateway_id}",
            command.id,
            command.type,
        )
    if parse_ts(command.expires_at).timestamp() <= now:
        raise Rejected("expired", f"expired at {command.expires_at}", command.id, command.type)
    if parse_ts(command.issued_at).timestamp() > now + FUTURE_SKEW_S:
        raise Rejected(
            "expired",
            f"issued at {command.issued_at}, more than {FUTURE_SKEW_S:.0f} s in the future",
            command.id,
            command.type,
        )
    return command, hashlib.sha256(stripped).hexdigest()
