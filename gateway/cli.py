"""The ``store-gateway`` command line.

Each subcommand lives in the module of the capability it belongs to and is
imported only when used, so ``store-gateway check-config`` does not pay for
bleak or aiohttp. A subcommand module exposes ``add_arguments(parser)`` and
``run(args) -> int`` (the process exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gateway import __version__

# name -> (module, one-line help). Modules are imported lazily.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("gateway.daemon.cli", "run the gateway daemon in the foreground"),
    "check-config": ("gateway.config.cli", "validate a configuration file (exit 78 if invalid)"),
    "devices": ("gateway.tools.devices", "print the device registry"),
    "prices": ("gateway.tools.prices", "print every SKU's current and held price"),
    "simulate": ("gateway.sim.cli", "serve a virtual store: a BlueZ double on a private D-Bus"),
    "simulate-cloud": (
        "gateway.sim.cloud",
        "a small retail cloud for the demo: binds labels, sends prices and promotions",
    ),
    "simulate-building": (
        "gateway.sim.building_cli",
        "serve the virtual store's building on Modbus TCP and push door counts",
    ),
    "keygen": ("gateway.commands.keygen", "create an Ed25519 key pair for signing commands"),
    "sign-command": ("gateway.commands.sign", "sign a JSON command from stdin as a compact JWS"),
    "hash-password": ("gateway.access.passwords", "print a password hash for the web users list"),
    "users": ("gateway.tools.users", "add, change, list and remove the page's users"),
    "web-cert": ("gateway.tools.web_cert", "show the page's HTTPS certificate, or make a new one"),
    "counter-token": ("gateway.energy.cli", "create a token for a door's people counter"),
}


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns as wide as their widest cell, two spaces apart (the subcommands' tables)."""
    cells = [[str(v) for v in row] for row in (headers, *rows)]
    widths = [max(len(c) for c in col) for col in zip(*cells, strict=False)]
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip())


def _build_parser() -> tuple[
    argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]
]:
    parser = argparse.ArgumentParser(
        prog="store-gateway",
        description="In-store IoT edge gateway: BLE devices bridged to the retail cloud over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"store-gateway {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, sub


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, sub = _build_parser()
    # Only the chosen subcommand's module is imported; the others are listed by name.
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name is not None and module_name.startswith(exc.name):
                    print(
                        f"store-gateway: '{name}' is not available in this build", file=sys.stderr
                    )
                    return 2
                raise
            module.add_arguments(sp)
            sp.set_defaults(_run=module.run)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
