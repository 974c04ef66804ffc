"""``store-gateway run``: the daemon in the foreground, until SIGTERM or SIGINT.

SIGHUP reloads what can change at run time (device tags, dead-bands, filters,
alert rules, log levels); a reload with problems changes nothing and says why.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import structlog

log = structlog.get_logger("gateway.daemon")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the gateway's TOML config")


def run(args: argparse.Namespace) -> int:
    from gateway.config.load import EX_CONFIG, load_or_report

    config = load_or_report(args.config)
    if config is None:
        return EX_CONFIG
    from gateway.logging import configure_logging

    configure_logging(config.logging)
    try:
        return asyncio.run(_serve(args.config))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 130


async def _serve(config_path: Path) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reload_requested = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_requested.set)

    from gateway.config.load import ConfigError, load_config
    from gateway.daemon.app import Gateway
    from gateway.daemon.settings import settings_from_config
    from gateway.logging import configure_logging

    gateway = Gateway(settings_from_config(load_config(config_path)))
    await gateway.start()
    try:
        while not stop.is_set():
            waiters = {
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(reload_requested.wait()),
            }
            _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
            if reload_requested.is_set() and not stop.is_set():
                reload_requested.clear()
                try:
                    # Reading a small file is fine here; the daemon is idle-waiting.
                    config = load_config(config_path)
                except ConfigError as exc:
                    log.error(
                        "reload refused; keeping the running configuration", problems=exc.problems
                    )
                    continue
                gateway.notifier.reloading()
                configure_logging(config.logging)
                gateway.reconfigure(settings_from_config(config))
                gateway.notifier.ready(gateway.status_line())
                log.info("configuration reloaded")
    finally:
        await gateway.stop()
    return 0
