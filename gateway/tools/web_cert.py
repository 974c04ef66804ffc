"""``store-gateway web-cert``: the page's HTTPS certificate and its fingerprint.

    store-gateway web-cert --config FILE [--renew] [--json]

Shows the certificate the gateway serves (made on first start when none is
configured). ``--renew`` makes a new self-signed one; the running gateway serves it
after ``systemctl reload store-gateway`` (or a restart). A configured certificate is
renewed where it was issued.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the gateway's TOML config")
    parser.add_argument("--renew", action="store_true", help="make a new self-signed certificate")
    parser.add_argument("--json", action="store_true", help="JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from gateway.config.load import EX_CONFIG, load_or_report
    from gateway.web import tls

    config = load_or_report(args.config)
    if config is None:
        return EX_CONFIG
    settings = config.web.tls
    if not settings.enabled:
        print(
            "store-gateway web-cert: this gateway serves plain HTTP (web.tls.enabled = false); "
            "remove that line to serve HTTPS",
            file=sys.stderr,
        )
        return 1
    data_dir = Path(config.data_dir)
    try:
        if settings.cert is not None and settings.key is not None:
            if args.renew:
                print(
                    f"store-gateway web-cert: the certificate is the configured one "
                    f"({settings.cert}); renew it where it was issued",
                    file=sys.stderr,
                )
                return 1
            info = tls.describe(settings.cert, settings.key)
        elif args.renew:
            info = tls.make_self_signed(
                data_dir, config.gateway_id, tls.local_names(config.gateway_id, config.web.bind)
            )
        else:
            info = tls.ensure(tls.TlsOptions(), data_dir, config.gateway_id, config.web.bind)
    except (tls.TlsError, OSError) as exc:
        print(f"store-gateway web-cert: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**info.view(), "cert": str(info.cert), "made": info.made}, indent=2))
        return 0
    print(f"certificate  {info.cert}{' (made now)' if info.made else ''}")
    print(f"subject      {info.subject}")
    print(f"names        {', '.join(info.names) or '-'}")
    print(f"valid until  {info.not_after:%Y-%m-%d}")
    print(f"SHA-256      {info.fingerprint}")
    if info.made:
        print("serve it: systemctl reload store-gateway (or restart the gateway)")
    return 0
