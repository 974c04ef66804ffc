"""Logging: structlog for our code, the standard library's loggers routed through it.

Console rendering on a terminal, JSON lines otherwise. With ``journald`` on,
each line starts with its syslog priority (``<6>``) and carries no timestamp of
its own (journald adds one). Per-component levels apply to logger names
(``gateway.ble``, ``bleak``, ``aiohttp.access``...). Calling
:func:`configure_logging` again (SIGHUP) replaces the configuration in place.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from gateway.config.model import LoggingConfig

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_SYSLOG_PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2, "exception": 3}
_HANDLER_NAME = "store-gateway"


def _syslog_prefix(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict["_priority"] = _SYSLOG_PRIORITY.get(str(event_dict.get("level", "info")), 6)
    return event_dict


class _JournaldRenderer:
    """JSON with the syslog priority as a ``<N>`` prefix, for journald."""

    def __init__(self) -> None:
        self._json = structlog.processors.JSONRenderer(ensure_ascii=False)

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        priority = event_dict.pop("_priority", 6)
        rendered = self._json(logger, name, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else rendered
        return f"<{priority}>{text}"


def configure_logging(config: LoggingConfig, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    fmt = config.format
    if fmt == "auto":
        fmt = "console" if out.isatty() and not config.journald else "json"
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
    ]
    if not config.journald:
        shared.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
    renderer: Any
    if config.journald:
        shared.append(_syslog_prefix)
        renderer = _JournaldRenderer()
    elif fmt == "console":
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt != "console" or config.journald:
        final.insert(0, structlog.processors.format_exc_info)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=[*final, renderer]
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(_LEVELS[config.level])
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("gateway", "bleak", "aiohttp", "paho", "asyncio")):
            logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in config.levels.items():
        logging.getLogger(name).setLevel(_LEVELS[level])
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
