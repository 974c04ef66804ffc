"""Who may do what on the page and the API: one table of actions per role.

Every endpoint names the action it performs (``gateway/web/api.py``); the server checks
it against this table for every request, whatever the page shows. A *sensitive*
action also needs a second factor confirmed within ``STEP_UP_S`` (a step-up): the
person is asked for a code inline and the action goes on.

| action | viewer | technician | admin | second factor |
|---|---|---|---|---|
| view (every page and reading) | yes | yes | yes | |
| alert.acknowledge, alert.silence, alert.unsilence | | yes | yes | |
| label.write (write a label again), label.flash | | yes | yes | |
| label.write-sku (every label of a SKU again) | | yes | yes | step-up |
| zone.override, zone.release | | yes | yes | step-up (override) |
| price.release, price.discard | | | yes | step-up |
| config.view (secrets removed) | | | yes | |
| audit.view, user.view (users and sessions) | | | yes | |
| user.add, user.change, user.remove, session.sign-out | | | yes | step-up |
| second-factor.reset (someone else's) | | | yes | step-up |

Everyone may manage their own password and second factor and sign out (``self``).
Every action but reading (``view``, ``config.view``, ``audit.view``, ``user.view``) is
recorded in the audit trail, and so is every refusal.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

STEP_UP_S = 300.0  # a second factor confirmed this recently covers a sensitive action


class Role(IntEnum):
    VIEWER = 1
    TECHNICIAN = 2
    ADMIN = 3


class Action(StrEnum):
    VIEW = "view"
    SELF = "self"  # one's own password, second factor and sessions
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    ALERT_SILENCE = "alert.silence"
    ALERT_UNSILENCE = "alert.unsilence"
    LABEL_WRITE = "label.write"
    LABEL_WRITE_SKU = "label.write-sku"
    LABEL_FLASH = "label.flash"
    ZONE_OVERRIDE = "zone.override"
    ZONE_RELEASE = "zone.release"
    PRICE_RELEASE = "price.release"
    PRICE_DISCARD = "price.discard"
    CONFIG_VIEW = "config.view"
    AUDIT_VIEW = "audit.view"
    USER_VIEW = "user.view"
    USER_ADD = "user.add"
    USER_CHANGE = "user.change"
    USER_REMOVE = "user.remove"
    SESSION_SIGN_OUT = "session.sign-out"
    SECOND_FACTOR_RESET = "second-factor.reset"


_VIEWER = frozenset({Action.VIEW, Action.SELF})
_TECHNICIAN = _VIEWER | {
    Action.ALERT_ACKNOWLEDGE,
    Action.ALERT_SILENCE,
    Action.ALERT_UNSILENCE,
    Action.LABEL_WRITE,
    Action.LABEL_WRITE_SKU,
    Action.LABEL_FLASH,
    Action.ZONE_OVERRIDE,
    Action.ZONE_RELEASE,
}
_ADMIN = frozenset(Action)

ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.TECHNICIAN: frozenset(_TECHNICIAN),
    Role.ADMIN: _ADMIN,
}

SENSITIVE: frozenset[Action] = frozenset(
    {
        Action.LABEL_WRITE_SKU,
        Action.ZONE_OVERRIDE,
        Action.PRICE_RELEASE,
        Action.PRICE_DISCARD,
        Action.USER_ADD,
        Action.USER_CHANGE,
        Action.USER_REMOVE,
        Action.SESSION_SIGN_OUT,
        Action.SECOND_FACTOR_RESET,
    }
)


READS: frozenset[Action] = frozenset(
    {Action.VIEW, Action.CONFIG_VIEW, Action.AUDIT_VIEW, Action.USER_VIEW}
)


def allowed(role: Role, action: Action) -> bool:
    return action in ALLOWED[role]


def least_role(action: Action) -> Role:
    """The lowest role that may take ``action`` (for the messages that say who may)."""
    return next(r for r in Role if action in ALLOWED[r])
