// The patient's story from Kotlin on the JVM through the generated bindings,
// against a real relay: the scenario of tests/python/test_story.py — wallet,
// push of an access request, approval, the doctor's record read and checked on
// the phone, a policy bought and checked, a claim APPROVED and a claim for an
// uncovered diagnosis REJECTED by the contract.

package carechain.story

import java.util.Collections
import java.util.UUID
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import uniffi.carechain_mobile.*

class Progress : KeygenProgressListener {
    val calls: MutableList<Triple<ULong, UByte, Long>> = Collections.synchronizedList(mutableListOf())

    override fun onProgress(progress: KeygenProgress) {
        calls.add(Triple(progress.candidatesTested, progress.primesFound, Thread.currentThread().id))
    }
}

/** A stand-in for the Android Keystore. */
class Keystore : PlatformKeystore {
    @Volatile var key: ByteArray? = null
    @Volatile var stores = 0

    override fun loadWalletKey(): ByteArray? = key

    override fun storeWalletKey(key: ByteArray) {
        stores++
        this.key = key.copyOf()
    }
}

class Events : EventListener {
    val queue = LinkedBlockingQueue<RelayEvent>()
    val connected: MutableList<Boolean> = Collections.synchronizedList(mutableListOf())

    override fun onEvent(event: RelayEvent) {
        queue.put(event)
    }

    override fun onConnectionChanged(connected: Boolean) {
        this.connected.add(connected)
    }

    /** The next event of `kind`, skipping others. */
    fun nextOf(kind: String, timeoutMs: Long = 30_000): RelayEvent {
        val deadline = System.currentTimeMillis() + timeoutMs
        while (System.currentTimeMillis() < deadline) {
            val event = queue.poll(500, TimeUnit.MILLISECONDS) ?: continue
            if (event.kind == kind) return event
        }
        throw AssertionFailed("no $kind event within $timeoutMs ms")
    }
}

/** The one field of a pushed event's JSON data the story checks, e.g. "request". */
fun field(json: String, name: String): String =
    Regex("\"" + Regex.escape(name) + "\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)
        ?: throw AssertionFailed("no string field $name in $json")

suspend fun newPatient(relay: Relay, name: String = "Alice"): Pair<Wallet, RelayClient> {
    val wallet = createWallet(Progress())
    val client = RelayClient(relay.url, relay.audience, wallet)
    client.register(name)
    return wallet to client
}

fun now(): Long = System.currentTimeMillis() / 1000

fun walletKeygenSealKeystoreAndBackup(): Unit = runBlocking {
    val progress = Progress()
    val wallet = createWallet(progress)
    val actor = wallet.actorId()
    // "cc" and the hex of 20 bytes of SHA-256 over the compressed P-256 key.
    expect(actor.length == 42 && actor.startsWith("cc")) { "actor id $actor" }
    java.math.BigInteger(actor.substring(2), 16)
    // Keys were generated off the caller's thread, reporting progress.
    expect(progress.calls.isNotEmpty()) { "no progress reported" }
    expectEq(progress.calls.last().second, 2.toUByte(), "primes found")
    val me = Thread.currentThread().id
    expect(progress.calls.all { it.third != me }) { "progress reported on the caller's thread" }

    val sealed = wallet.sealWithPassphrase("correct horse battery")
    expectEq(Wallet.unlockWithPassphrase(sealed, "correct horse battery").actorId(), actor, "unlocked actor")
    val wrong = expectThrows<MobileException.WrongSecret> { Wallet.unlockWithPassphrase(sealed, "wrong") }
    // uniffi builds the message from the variant's fields: it must not be empty.
    expect(wrong.message.orEmpty().contains("wrong passphrase")) { "WrongSecret has no message: ${wrong.message}" }
    expectThrows<MobileException.InvalidInput> { wallet.sealWithPassphrase("") }

    val keystore = Keystore()
    val sealedByKey = wallet.sealWithKeystore(keystore)
    expect(keystore.stores == 1 && keystore.key?.size == 32) { "one 32-byte key stored" }
    expectEq(Wallet.unlockWithKeystore(sealedByKey, keystore).actorId(), actor, "keystore-unlocked actor")
    // The same key is reused, not replaced.
    wallet.sealWithKeystore(keystore)
    expectEq(keystore.stores, 1, "stores")
    val other = Keystore()
    other.key = ByteArray(32)
    expectThrows<MobileException.WrongSecret> { Wallet.unlockWithKeystore(sealedByKey, other) }
    other.key = "short".toByteArray()
    expectThrows<MobileException.Keystore> { Wallet.unlockWithKeystore(sealedByKey, other) }
    // A passphrase-sealed file is not a key-sealed one.
    expectThrows<MobileException.WalletUnusable> { Wallet.unlockWithKeystore(sealed, keystore) }

    val backup = wallet.exportBackup("backup passphrase")
    expectEq(Wallet.importBackup(backup, "backup passphrase").actorId(), actor, "restored actor")
    expectThrows<MobileException.WrongSecret> { Wallet.importBackup(backup, "nope") }
    expectThrows<MobileException.WalletUnusable> { Wallet.importBackup(sealed, "correct horse battery") }
}

fun theWholeStoryApprovedAndUncoveredRejected(relay: Relay): Unit = runBlocking {
    val (doctor, insurer) = staff(relay)
    val (wallet, phone) = newPatient(relay)
    val me = wallet.actorId()
    val events = Events()
    val sub = phone.subscribeEvents(events, "phone-1", null)
    try {
        // The doctor asks; the phone hears it through its listener.
        val requestId = doctor.requestAccess(me)
        val pushed = events.nextOf("access_requested")
        expectEq(field(pushed.dataJson, "request"), requestId, "pushed request")
        expect(true in events.connected) { "the listener was never told it is connected" }
        val pending = phone.pendingRequests()
        expectEq(pending.map { it.requestId }, listOf(requestId), "pending requests")
        expectEq(pending[0].doctorId, doctor.actorId(), "doctor")
        expectEq(pending[0].status, RequestStatus.PENDING, "status")
        expectEq(pending[0].actions.toSet(), setOf(AccessKind.READ, AccessKind.WRITE), "asked actions")
        expectEq(pending[0].categories, null, "asked categories")

        // The patient approves read and write on general records for a week.
        val week = now() + 7 * 86400
        phone.approve(requestId, listOf(AccessKind.READ, AccessKind.WRITE), listOf(RecordCategory.GENERAL), week)
        expectEq(phone.pendingRequests(), emptyList(), "pending after approval")
        val grants = phone.grants()
        expectEq(grants.map { it.requestId }, listOf(requestId), "grants")
        expectEq(grants[0].expiresAt, week, "grant end")

        // The doctor writes a record; the phone decrypts it and checks E(code).
        val recordId = doctor.writeCondition(me, "E11.9")
        val written = events.nextOf("record_written")
        expectEq(field(written.dataJson, "record"), recordId, "pushed record")
        val records = phone.records()
        expectEq(records.map { it.recordId }, listOf(recordId), "records")
        val record = records[0]
        expectEq(record.doctorId, doctor.actorId(), "record author")
        expectEq(record.category, RecordCategory.GENERAL, "record category")
        expectEq(field(record.fhirJson, "resourceType"), "Condition", "FHIR resource")
        expectEq(record.codeCheck, CodeCheck.Verified(code = "E11.9"), "code check")

        // The doctor's read is logged and shows in the patient's access log.
        val fhir = doctor.readRecord(recordId)
        expect(fhir.contains("\"E11.9\"")) { "the doctor read $fhir" }
        expectEq(phone.accessLog().map { it.readerId to it.recordId }, listOf(doctor.actorId() to recordId), "access log")

        // Insurance: a product covering E11.9, bought, issued and checked.
        val productId = insurer.publishProduct("Diabetes cover", "E11.9", 50_000uL)
        expect(phone.products().any { it.productId == productId }) { "product $productId not listed" }
        val policyId = phone.purchase(productId)
        val bought = phone.policies().single()
        expect(bought.policyId == policyId && !bought.issued) { "bought $bought" }
        expectEq(bought.check, PolicyCheck.NotIssued, "check before issue")
        insurer.issuePolicy(policyId)
        events.nextOf("policy_issued")
        val policy = phone.policies().single()
        expect(policy.issued) { "policy not issued" }
        expectEq(policy.check, PolicyCheck.Computed, "policy check")

        // A diagnosis made during the policy's term, proven on the phone: APPROVED.
        val diagnosed = doctor.writeCondition(me, "E11.9")
        val claim = phone.fileClaim(policyId, diagnosed, false)
        expectEq(claim.decision, ClaimDecision.Approved(payout = 50_000uL, currency = "EUR"), "decision")
        val decided = events.nextOf("claim_decided")
        expectEq(field(decided.dataJson, "claim"), claim.claimId, "pushed claim")

        // An uncovered diagnosis: refused on the phone unless asked, then REJECTED.
        val asthma = doctor.writeCondition(me, "J45.909")
        val refused = expectThrows<MobileException.Refused> { phone.fileClaim(policyId, asthma, false) }
        expectEq(refused.code, "not_covered", "refusal code")
        val rejected = phone.fileClaim(policyId, asthma, true)
        expectEq(rejected.decision, ClaimDecision.Rejected(reason = "proof_failed"), "uncovered decision")

        val decisions = phone.claims().associate { it.claimId to it.decision }
        expectEq(decisions, mapOf(claim.claimId to claim.decision, rejected.claimId to rejected.decision), "claims")

        // Every statement the patient signed is in the wallet's local log.
        val log = wallet.statementLog()
        expectEq(
            log.map { it.kind },
            listOf("register_identity", "grant", "purchase_policy", "file_claim", "file_claim"),
            "statement log",
        )
        expect(log.all { s -> s.token.count { it == '.' } == 2 }) { "a logged statement is not a compact JWS" }

        // Revoking ends the grant: the doctor can no longer write.
        phone.revoke(requestId)
        expectEq(phone.grants(), emptyList(), "grants after revoke")
        val refusedWrite = expectThrows<CliFailed> { doctor.writeCondition(me, "E11.9") }
        expect("the relay refused" in refusedWrite.stderr) { "not a refusal: ${refusedWrite.stderr}" }
        expect(sub.lastAcknowledged() >= decided.id) { "acknowledged ${sub.lastAcknowledged()} < ${decided.id}" }
    } finally {
        sub.stop()
    }
}

fun aRecordWhoseEncryptedCodeDiffersIsFlagged(relay: Relay): Unit = runBlocking {
    val (doctor, _) = staff(relay)
    val (wallet, phone) = newPatient(relay, "Bob")
    val me = wallet.actorId()
    val requestId = doctor.requestAccess(me)
    phone.approve(requestId, listOf(AccessKind.WRITE), null, now() + 3600)
    // The payload says I10, but E(code) encrypts E11.9.
    doctor.writeCondition(me, "I10", encryptedCode = "E11.9")
    val record = phone.records().single()
    expectEq(record.codeCheck, CodeCheck.Mismatch(inPayload = "I10", encrypted = "E11.9"), "code check")
    // Deny and unknown ids are refused cleanly.
    val second = doctor.requestAccess(me)
    phone.deny(second)
    val statuses = phone.accessRequests().associate { it.requestId to it.status }
    expectEq(statuses[second], RequestStatus.DENIED, "denied status")
    expectThrows<MobileException.InvalidInput> { phone.deny("not-a-uuid") }
    expectThrows<MobileException.NotFound> { phone.record(UUID.randomUUID().toString()) }
}

fun eventsResumeAfterTheLastAcknowledgedOne(relay: Relay): Unit = runBlocking {
    val (doctor, _) = staff(relay)
    val (wallet, phone) = newPatient(relay, "Carol")
    val me = wallet.actorId()
    val first = Events()
    val sub = phone.subscribeEvents(first, "tablet", null)
    val one = doctor.requestAccess(me)
    val got = first.nextOf("access_requested")
    expectEq(field(got.dataJson, "request"), one, "first pushed request")
    // Wait until the relay confirms the ack stored, then drop the socket.
    val deadline = System.currentTimeMillis() + 10_000
    while (sub.lastAcknowledged() < got.id && System.currentTimeMillis() < deadline) Thread.sleep(50)
    val acked = sub.lastAcknowledged()
    expectEq(acked, got.id, "acknowledged id")
    sub.stop()
    Thread.sleep(500)

    // Offline: two more requests arrive.
    val two = doctor.requestAccess(me)
    val three = doctor.requestAccess(me)

    // The same device resumes from the relay's stored cursor: the two new events, in order.
    val second = Events()
    val sub2 = phone.subscribeEvents(second, "tablet", null)
    try {
        val a = second.nextOf("access_requested")
        val b = second.nextOf("access_requested")
        expectEq(listOf(field(a.dataJson, "request"), field(b.dataJson, "request")), listOf(two, three), "resumed")
        expect(a.id > acked && b.id > a.id) { "ids $acked, ${a.id}, ${b.id} not increasing" }
        Thread.sleep(500)
        expect(second.queue.isEmpty()) { "repeated events: ${second.queue}" }
    } finally {
        sub2.stop()
    }

    // Resuming explicitly after an id replays what followed it.
    val third = Events()
    val sub3 = phone.subscribeEvents(third, "other-device", acked)
    try {
        expectEq(field(third.nextOf("access_requested").dataJson, "request"), two, "replayed")
    } finally {
        sub3.stop()
    }
}

fun main() {
    val relay = Relay.fromEnvironment()
    val status = runAll(
        listOf(
            "wallet_keygen_seal_keystore_and_backup" to { walletKeygenSealKeystoreAndBackup() },
            "the_whole_story_approved_and_uncovered_rejected" to { theWholeStoryApprovedAndUncoveredRejected(relay) },
            "a_record_whose_encrypted_code_differs_is_flagged" to { aRecordWhoseEncryptedCodeDiffersIsFlagged(relay) },
            "events_resume_after_the_last_acknowledged_one" to { eventsResumeAfterTheLastAcknowledgedOne(relay) },
        ),
    )
    exitProcess(status)
}
