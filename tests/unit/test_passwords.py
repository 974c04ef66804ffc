import subprocess
import sys
from pathlib import Path

import pytest

from gateway.access.passwords import BadHash, check_hash_format, hash_password, verify_password

ROOT = Path(__file__).resolve().parents[2]


def test_roundtrip_and_wrong_password() -> None:
    stored = hash_password("correct horse", log2_n=10)
    assert stored.startswith("scrypt$10$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert hash_password("correct horse", log2_n=10) != stored  # salted


def test_bad_formats_are_named() -> None:
    assert check_hash_format("plaintext") is not None
    with pytest.raises(BadHash, match="hash-password"):
        verify_password("x", "md5$abc")
    with pytest.raises(BadHash, match="out of range"):
        verify_password("x", "scrypt$30$8$1$AAAA$AAAA")


def test_cli_prints_a_verifiable_hash() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "hash-password", "--stdin"],
        input="s3cret-pass\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert verify_password("s3cret-pass", out.stdout.strip())
    short = subprocess.run(
        [sys.executable, "-m", "gateway", "hash-password", "--stdin"],
        input="short\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert short.returncode == 1 and "8 characters" in short.stderr and short.stdout == ""
