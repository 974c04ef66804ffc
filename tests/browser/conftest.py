"""The page in Chromium, served over HTTPS with a certificate from a test CA that the
browser trusts (and nothing else)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.ownership import Ownership, OwnershipOptions
from tests.helpers.certs import chain, make_pki
from tests.helpers.web import TlsFiles, WebHarness, harness


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    return TlsFiles(chain(pki), pki["server"].with_suffix(".key"), pki["ca"])


@pytest.fixture
async def web_harness(tmp_path: Path, test_ca: TlsFiles) -> AsyncIterator[WebHarness]:
    async with harness(tmp_path, None, test_ca) as h:
        yield h


@pytest.fixture
async def shared_web_harness(tmp_path: Path, test_ca: TlsFiles) -> AsyncIterator[WebHarness]:
    ownership = Ownership("store-0042", "gw-1", OwnershipOptions())
    async with harness(tmp_path, ownership, test_ca) as h:
        yield h
