"""What the configuration's ``[web]`` says about access, as the components take it."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.access.users import Seed

DAY_S = 86400.0


@dataclass(frozen=True)
class AccessOptions:
    seeds: tuple[Seed, ...] = ()  # the configuration's users: into an empty table, once
    second_factor_roles: frozenset[str] = frozenset({"admin"})
    session_lifetime_s: float = 8 * 3600.0
    session_idle_s: float = 30 * 60.0
    secure_cookies: bool = False
    user_limit: int = 5  # failed sign-ins of one user before they wait
    address_limit: int = 20  # of one address, whoever's, before it waits
    window_s: float = 600.0  # failures further apart start a new count
    audit_keep_s: float = 90 * DAY_S
