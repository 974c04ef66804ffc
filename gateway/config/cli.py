"""``store-gateway check-config``: exit 0 if the file is valid, 78 (EX_CONFIG) if not."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.config.load import EX_CONFIG, ConfigError, load_config, where


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the gateway's TOML config")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(where(args.config, problem), file=sys.stderr)
        print(
            f"{args.config}: {len(exc.problems)} problem(s); nothing was changed", file=sys.stderr
        )
        return EX_CONFIG
    warnings = []
    if config.security.allow_unsigned_commands:
        warnings.append("security.allow_unsigned_commands is true: use this only in development")
    if config.web.enabled and not config.web.users:
        warnings.append("web.users is empty: nobody can log in to the web page")
    for w in warnings:
        print(f"{args.config}: warning: {w}", file=sys.stderr)
    print(
        f"{args.config}: valid (store {config.store_id}, gateway {config.gateway_id}, "
        f"{len(config.alerts.rules)} alert rules, {len(config.web.users)} web users)"
    )
    return 0
