"""The doctor, the insurer and the admin of the stories, driven through the
real `carechain` CLI (its path in CARECHAIN_CLI_BIN, built by tests/common.sh)
as staff use it: each has its own keystore and login session in a temporary
directory, and every answer is read from the CLI's `--json` output."""

import asyncio
import atexit
import json
import os
import shutil
import subprocess
import tempfile
import uuid

from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, KEYSTORE_PASSPHRASE

STAFF_PASSPHRASE = "staff-keystore-passphrase"
STAFF_PASSWORD = "a-good-password"


class CliFailed(Exception):
    """The CLI exited non-zero; `stderr` says why (a refusal reads "the relay refused …")."""

    def __init__(self, args, stderr):
        super().__init__(f"carechain {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


class Staff:
    """One staff member: `carechain ROLE …` with its own keystore."""

    def __init__(self, relay, role, keystore, passphrase):
        self.relay = relay
        self.role = role
        self.keystore = keystore
        self.passphrase = passphrase
        self.actor = None

    async def run(self, *args, password=None):
        """`carechain ROLE ARGS --json`: its standard output, or CliFailed."""
        cli = os.environ.get("CARECHAIN_CLI_BIN")
        if not cli:
            raise AssertionError("set CARECHAIN_CLI_BIN to the carechain CLI (run-python.sh does)")
        env = dict(
            os.environ,
            CARECHAIN_RELAY_URL=self.relay.url,
            CARECHAIN_LEDGER_AUDIENCE=self.relay.audience,
            CARECHAIN_KEYSTORE=self.keystore,
            CARECHAIN_PASSPHRASE=self.passphrase,
        )
        if password is not None:
            env["CARECHAIN_PASSWORD"] = password
        proc = await asyncio.create_subprocess_exec(
            cli, self.role, *args, "--json",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise CliFailed((self.role, *args), err.decode())
        return out.decode()

    async def json(self, *args, password=None):
        """The JSON answer of `carechain ROLE ARGS --json`."""
        return json.loads(await self.run(*args, password=password))

    def actor_id(self):
        return self.actor

    async def request_access(self, patient_id):
        """A doctor asks for read and write on every record for 30 days."""
        return (await self.json("request", patient_id))["request"]

    async def write_condition(self, patient_id, code, encrypted_code=None):
        """A doctor writes a Condition with `code`, a visit billed 1,000.00 EUR (above any
        test product's payout, so approvals pay in full); `encrypted_code` plays a lying doctor."""
        args = ["write", patient_id, "--condition", code, "--billed", "100000"]
        if encrypted_code is not None:
            args += ["--encrypted-code", encrypted_code]
        return (await self.json(*args))["record"]

    async def read_record(self, record_id):
        """A doctor's logged read: the record's FHIR JSON."""
        return await self.run("read", record_id)

    async def publish_product(self, name, code, payout):
        """An insurer publishes a one-item product covering `code`."""
        args = ["publish", "--name", name, "--premium", "1000", "--item", f"{code}={payout}"]
        return (await self.json(*args))["product"]

    async def issue_policy(self, policy_id):
        """An insurer issues a purchased policy under the patient's Paillier key."""
        await self.json("issue", policy_id)


async def enrol(admin, home, role, email, name):
    """A doctor or insurer: keys made, signed up, approved by `admin`, logged in."""
    member = Staff(admin.relay, role, os.path.join(home, f"{role}.keystore"), STAFF_PASSPHRASE)
    member.actor = (await member.json("init"))["actor"]
    account = await member.json("register", "--email", email, "--name", name, password=STAFF_PASSWORD)
    assert account["status"] == "pending", account
    await admin.json("approve", account["id"])
    await member.json("login", "--email", email, password=STAFF_PASSWORD)
    return member


async def staff(relay):
    """The relay's admin (its keystore copied) enrols a fresh doctor and insurer."""
    home = tempfile.mkdtemp(prefix="carechain-staff-")
    atexit.register(shutil.rmtree, home, True)
    keystore = os.path.join(home, "admin.keystore")
    shutil.copyfile(os.path.join(relay.data_dir, "admin.keystore"), keystore)
    admin = Staff(relay, "admin", keystore, KEYSTORE_PASSPHRASE)
    await admin.json("login", "--email", ADMIN_EMAIL, password=ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:8]
    doctor = await enrol(admin, home, "doctor", f"doc-{tag}@example.org", "Dr Who")
    insurer = await enrol(admin, home, "insurer", f"ins-{tag}@example.org", "Insure Co")
    return doctor, insurer
