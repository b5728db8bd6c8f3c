"""The patient's story from Python through the generated bindings, against a
real relay: wallet, push of an access request, approval, the doctor's record
read and checked on the phone, a policy bought and checked, a claim APPROVED
and a claim for an uncovered diagnosis REJECTED by the contract."""

import asyncio
import json
import queue
import threading
import time
import uuid

import pytest

import carechain_mobile as cm

from staff_cli import CliFailed, staff


class Progress(cm.KeygenProgressListener):
    def __init__(self):
        self.calls = []

    def on_progress(self, progress):
        self.calls.append((progress.candidates_tested, progress.primes_found, threading.get_ident()))


class Keystore(cm.PlatformKeystore):
    """A stand-in for the Android Keystore / iOS Keychain."""

    def __init__(self):
        self.key = None
        self.stores = 0

    def load_wallet_key(self):
        return self.key

    def store_wallet_key(self, key):
        self.stores += 1
        self.key = bytes(key)


class Events(cm.EventListener):
    def __init__(self):
        self.queue = queue.Queue()
        self.connected = []

    def on_event(self, event):
        self.queue.put(event)

    def on_connection_changed(self, connected):
        self.connected.append(connected)

    async def next_of(self, kind, timeout=30.0):
        """The next event of `kind`, skipping others."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                event = await asyncio.to_thread(self.queue.get, True, 0.5)
            except queue.Empty:
                continue
            if event.kind == kind:
                return event
        raise AssertionError(f"no {kind} event within {timeout} s")


def run(coro):
    return asyncio.run(coro)


async def new_patient(relay, name="Alice"):
    wallet = await cm.create_wallet(Progress())
    client = cm.RelayClient(relay.url, relay.audience, wallet)
    await client.register(name)
    return wallet, client


async def cast(relay, name):
    """A fresh doctor and insurer (the carechain CLI) and a patient on a new phone."""
    doctor, insurer = await staff(relay)
    wallet, phone = await new_patient(relay, name)
    return doctor, insurer, wallet, phone, wallet.actor_id()


def test_wallet_keygen_seal_keystore_and_backup():
    async def scenario():
        progress = Progress()
        wallet = await cm.create_wallet(progress)
        actor = wallet.actor_id()
        # "cc" and the hex of 20 bytes of SHA-256 over the compressed P-256 key.
        assert len(actor) == 42 and actor.startswith("cc")
        int(actor[2:], 16)
        # Keys were generated off the caller's thread, reporting progress.
        assert progress.calls, "no progress reported"
        assert progress.calls[-1][1] == 2
        assert all(tid != threading.get_ident() for _, _, tid in progress.calls)

        sealed = wallet.seal_with_passphrase("correct horse battery")
        assert cm.Wallet.unlock_with_passphrase(sealed, "correct horse battery").actor_id() == actor
        with pytest.raises(cm.MobileError.WrongSecret) as wrong:
            cm.Wallet.unlock_with_passphrase(sealed, "wrong")
        assert "wrong passphrase" in str(wrong.value)
        with pytest.raises(cm.MobileError.InvalidInput):
            wallet.seal_with_passphrase("")
        # New passphrases need 12 characters; NFC and NFD spellings are one passphrase.
        with pytest.raises(cm.MobileError.InvalidInput) as short:
            wallet.seal_with_passphrase("hunter2")
        assert "at least 12 characters" in str(short.value)
        nfd = wallet.seal_with_passphrase("cre\u0300me bru\u0302le\u0301e")
        assert cm.Wallet.unlock_with_passphrase(nfd, "cr\u00e8me br\u00fbl\u00e9e").actor_id() == actor

        keystore = Keystore()
        sealed_by_key = wallet.seal_with_keystore(keystore)
        assert keystore.stores == 1 and len(keystore.key) == 32
        assert cm.Wallet.unlock_with_keystore(sealed_by_key, keystore).actor_id() == actor
        # The same key is reused, not replaced.
        wallet.seal_with_keystore(keystore)
        assert keystore.stores == 1
        other = Keystore()
        other.key = bytes(32)
        with pytest.raises(cm.MobileError.WrongSecret):
            cm.Wallet.unlock_with_keystore(sealed_by_key, other)
        other.key = b"short"
        with pytest.raises(cm.MobileError.Keystore):
            cm.Wallet.unlock_with_keystore(sealed_by_key, other)
        # A passphrase-sealed file is not a key-sealed one.
        with pytest.raises(cm.MobileError.WalletUnusable):
            cm.Wallet.unlock_with_keystore(sealed, keystore)

        backup = wallet.export_backup("backup passphrase")
        assert cm.Wallet.import_backup(backup, "backup passphrase").actor_id() == actor
        with pytest.raises(cm.MobileError.WrongSecret):
            cm.Wallet.import_backup(backup, "nope")
        with pytest.raises(cm.MobileError.WalletUnusable):
            cm.Wallet.import_backup(sealed, "correct horse battery")

    run(scenario())


def test_the_whole_story_approved_and_uncovered_rejected(relay):
    async def scenario():
        doctor, insurer, wallet, phone, me = await cast(relay, "Alice")
        events = Events()
        sub = phone.subscribe_events(events, "phone-1", None)
        try:
            # The doctor asks; the phone hears it through its listener.
            request_id = await doctor.request_access(me)
            pushed = await events.next_of("access_requested")
            assert json.loads(pushed.data_json)["request"] == request_id
            assert True in events.connected
            pending = await phone.pending_requests()
            assert [r.request_id for r in pending] == [request_id]
            assert pending[0].doctor_id == doctor.actor_id()
            assert pending[0].status == cm.RequestStatus.PENDING
            assert set(pending[0].actions) == {cm.AccessKind.READ, cm.AccessKind.WRITE}
            assert pending[0].categories is None

            # The patient approves read and write on general records for a week.
            week = int(time.time()) + 7 * 86400
            await phone.approve(request_id, [cm.AccessKind.READ, cm.AccessKind.WRITE], [cm.RecordCategory.GENERAL], week)
            assert await phone.pending_requests() == []
            grants = await phone.grants()
            assert [g.request_id for g in grants] == [request_id]
            assert grants[0].expires_at == week

            # The doctor writes a record; the phone decrypts it and checks E(code).
            record_id = await doctor.write_condition(me, "E11.9")
            written = await events.next_of("record_written")
            assert json.loads(written.data_json)["record"] == record_id
            records = await phone.records()
            assert [r.record_id for r in records] == [record_id]
            record = records[0]
            assert record.doctor_id == doctor.actor_id()
            assert record.category == cm.RecordCategory.GENERAL
            assert json.loads(record.fhir_json)["resourceType"] == "Condition"
            assert record.code_check == cm.CodeCheck.VERIFIED(code="E11.9")

            # The doctor's read is logged and shows in the patient's access log.
            fhir = await doctor.read_record(record_id)
            assert json.loads(fhir)["code"]["coding"][0]["code"] == "E11.9"
            log = await phone.access_log()
            assert [(e.reader_id, e.record_id) for e in log] == [(doctor.actor_id(), record_id)]

            # Insurance: a product covering E11.9, bought, issued and checked.
            product_id = await insurer.publish_product("Diabetes cover", "E11.9", 50_000)
            products = await phone.products()
            assert product_id in [p.product_id for p in products]
            policy_id = await phone.purchase(product_id)
            [bought] = await phone.policies()
            assert bought.policy_id == policy_id and not bought.issued
            assert bought.check == cm.PolicyCheck.NOT_ISSUED()
            await insurer.issue_policy(policy_id)
            await events.next_of("policy_issued")
            [policy] = await phone.policies()
            assert policy.issued and policy.check == cm.PolicyCheck.COMPUTED()

            # The claim is for a diagnosis made during the policy's term (the
            # first record may predate the term's start by a second): proven on
            # the phone, it is APPROVED by the contract.
            diagnosed = await doctor.write_condition(me, "E11.9")
            claim = await phone.file_claim(policy_id, diagnosed, False)
            assert claim.decision == cm.ClaimDecision.APPROVED(payout=50_000, currency="EUR")
            decided = await events.next_of("claim_decided")
            assert json.loads(decided.data_json)["claim"] == claim.claim_id

            # A record whose diagnosis the policy does not cover: the phone
            # refuses to file it unless asked, and then the contract REJECTS it.
            asthma = await doctor.write_condition(me, "J45.909")
            with pytest.raises(cm.MobileError.Refused) as refused:
                await phone.file_claim(policy_id, asthma, False)
            assert refused.value.code == "not_covered"
            rejected = await phone.file_claim(policy_id, asthma, True)
            assert rejected.decision == cm.ClaimDecision.REJECTED(reason="proof_failed")

            claims = await phone.claims()
            decisions = {c.claim_id: c.decision for c in claims}
            assert decisions == {claim.claim_id: claim.decision, rejected.claim_id: rejected.decision}

            # Every statement the patient signed is in the wallet's local log.
            kinds = [s.kind for s in wallet.statement_log()]
            assert kinds == ["register_identity", "grant", "purchase_policy", "file_claim", "file_claim"]
            assert all(s.token.count(".") == 2 for s in wallet.statement_log())

            # Revoking ends the grant: the doctor can no longer write.
            await phone.revoke(request_id)
            assert await phone.grants() == []
            with pytest.raises(CliFailed) as refused:
                await doctor.write_condition(me, "E11.9")
            assert "the relay refused" in refused.value.stderr
            assert sub.last_acknowledged() >= int(decided.id)
        finally:
            sub.stop()

    run(scenario())


def test_a_record_whose_encrypted_code_differs_is_flagged(relay):
    async def scenario():
        doctor, _, wallet, phone, me = await cast(relay, "Bob")
        request_id = await doctor.request_access(me)
        await phone.approve(request_id, [cm.AccessKind.WRITE], None, int(time.time()) + 3600)
        # The payload says I10, but E(code) encrypts E11.9.
        await doctor.write_condition(me, "I10", encrypted_code="E11.9")
        [record] = await phone.records()
        assert record.code_check == cm.CodeCheck.MISMATCH(in_payload="I10", encrypted="E11.9")
        # Deny and unknown ids are refused cleanly.
        second = await doctor.request_access(me)
        await phone.deny(second)
        statuses = {r.request_id: r.status for r in await phone.access_requests()}
        assert statuses[second] == cm.RequestStatus.DENIED
        with pytest.raises(cm.MobileError.InvalidInput):
            await phone.deny("not-a-uuid")
        with pytest.raises(cm.MobileError.NotFound):
            await phone.record(str(uuid.uuid4()))

    run(scenario())


def test_events_resume_after_the_last_acknowledged_one(relay):
    async def scenario():
        doctor, _, wallet, phone, me = await cast(relay, "Carol")
        first = Events()
        sub = phone.subscribe_events(first, "tablet", None)
        one = await doctor.request_access(me)
        got = await first.next_of("access_requested")
        assert json.loads(got.data_json)["request"] == one
        # Wait until the relay confirms the ack stored, then drop the socket.
        deadline = time.time() + 10
        while sub.last_acknowledged() < got.id and time.time() < deadline:
            await asyncio.sleep(0.05)
        acked = sub.last_acknowledged()
        assert acked == got.id
        sub.stop()
        await asyncio.sleep(0.5)

        # Offline: two more requests arrive.
        two = await doctor.request_access(me)
        three = await doctor.request_access(me)

        # A new subscription for the same device resumes from the relay's
        # stored cursor: only the two new events, in order, no repeat.
        second = Events()
        sub2 = phone.subscribe_events(second, "tablet", None)
        try:
            a = await second.next_of("access_requested")
            b = await second.next_of("access_requested")
            assert [json.loads(a.data_json)["request"], json.loads(b.data_json)["request"]] == [two, three]
            assert a.id > acked and b.id > a.id
            await asyncio.sleep(0.5)
            assert second.queue.empty()
        finally:
            sub2.stop()

        # Resuming explicitly after an id replays what followed it.
        third = Events()
        sub3 = phone.subscribe_events(third, "other-device", acked)
        try:
            c = await third.next_of("access_requested")
            assert json.loads(c.data_json)["request"] == two
        finally:
            sub3.stop()

    run(scenario())
