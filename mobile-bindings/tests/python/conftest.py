"""Fixtures: the generated bindings on sys.path, and a real `carechain-relay`
process on a temporary data directory and a free loopback port."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

BINDINGS = os.environ.get("CARECHAIN_BINDINGS_DIR")
if BINDINGS:
    sys.path.insert(0, BINDINGS)

ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "admin-password-1"
KEYSTORE_PASSPHRASE = "keystore-passphrase"
LEDGER_AUDIENCE = "carechain"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """A running relay: its URL and what the admin needs to sign in."""

    def __init__(self, url, data_dir):
        self.url = url
        self.data_dir = data_dir
        self.audience = LEDGER_AUDIENCE

    def admin_keystore(self):
        with open(os.path.join(self.data_dir, "admin.keystore"), "rb") as f:
            return f.read()


@pytest.fixture(scope="session")
def relay():
    binary = os.environ.get("CARECHAIN_RELAY_BIN")
    if not binary:
        pytest.fail("set CARECHAIN_RELAY_BIN to the carechain-relay binary")
    workdir = tempfile.mkdtemp(prefix="carechain-py-")
    data_dir = os.path.join(workdir, "data")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CARECHAIN_DATABASE_URL")}
    env.update(
        {
            "CARECHAIN_ADMIN_PASSPHRASE": KEYSTORE_PASSPHRASE,
            "CARECHAIN_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CARECHAIN_LISTEN": f"127.0.0.1:{port}",
            "CARECHAIN_DATA_DIR": data_dir,
            "CARECHAIN_LEDGER_AUDIENCE": LEDGER_AUDIENCE,
            "CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
            "CARECHAIN_WORKERS": "2",
            "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        }
    )
    log = open(os.path.join(workdir, "relay.log"), "wb")
    proc = subprocess.Popen(
        [binary, "serve", "--admin-email", ADMIN_EMAIL],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            with open(os.path.join(workdir, "relay.log"), "rb") as f:
                pytest.fail("the relay did not start:\n" + f.read().decode(errors="replace"))
        time.sleep(0.2)
    yield Relay(url, data_dir)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
