"""Coverage-guided fuzzing of the advertisement decoders (atheris / libFuzzer).

Run with ``scripts/fuzz adverts [libFuzzer options]``, e.g. ``-max_total_time=600``.
Every input becomes one advertisement: manufacturer data under a company id the
decoders know (Apple iBeacon, Ruuvi, Gicisky, AltBeacon's space) or service data
under a UUID they know (BTHome, Eddystone), with or without a BTHome bind key.
A decoder may raise ``DecodeError`` (bytes it refuses) and nothing else.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from drivers.decode import decode
    from drivers.types import Advertisement, DecodeError, uuid16

COMPANIES = (0x004C, 0x0499, 0x5053, 0x0118, 0xFFFF)
SERVICES = (uuid16(0xFCD2), uuid16(0xFEAA), uuid16(0xFEF0))
KEY = bytes(range(16))


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.ConsumeIntInRange(0, 2)
    keyed = fdp.ConsumeBool()
    address = "AA:BB:CC:DD:EE:FF"
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    if kind == 0:
        adv = Advertisement(address, manufacturer_data={COMPANIES[len(data) % 5]: payload})
    elif kind == 1:
        adv = Advertisement(address, service_data={SERVICES[len(data) % 3]: payload})
    else:
        half = len(payload) // 2
        adv = Advertisement(
            address,
            manufacturer_data={COMPANIES[len(data) % 5]: payload[:half]},
            service_data={SERVICES[len(data) % 3]: payload[half:]},
        )
    with contextlib.suppress(DecodeError):
        decode(adv, bthome_keys={"aabbccddeeff": KEY} if keyed else None)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
