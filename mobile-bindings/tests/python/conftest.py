"""Fixtures: the generated bindings on sys.path, and the real `carechain-relay`
that run-python.sh started (tests/common.sh `start_relay`) on a temporary
data directory and a free loopback port."""

import os
import sys

import pytest

BINDINGS = os.environ.get("CARECHAIN_BINDINGS_DIR")
if BINDINGS:
    sys.path.insert(0, BINDINGS)

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "admin-password-1"
KEYSTORE_PASSPHRASE = "keystore-passphrase"
LEDGER_AUDIENCE = "carechain"


class Relay:
    """A running relay: its URL and what the admin needs to sign in."""

    def __init__(self, url, data_dir):
        self.url = url
        self.data_dir = data_dir
        self.audience = LEDGER_AUDIENCE


@pytest.fixture(scope="session")
def relay():
    url = os.environ.get("CARECHAIN_RELAY_URL")
    data_dir = os.environ.get("CARECHAIN_RELAY_DATA_DIR")
    if not url or not data_dir:
        pytest.fail("set CARECHAIN_RELAY_URL and CARECHAIN_RELAY_DATA_DIR to a running relay (run-python.sh starts one)")
    return Relay(url, data_dir)
