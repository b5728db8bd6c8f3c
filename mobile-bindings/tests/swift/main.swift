// The patient's story from Swift on Linux through the generated bindings,
// against a real relay: the scenario of tests/python/test_story.py — wallet,
// push of an access request, approval, the doctor's record read and checked on
// the phone, a policy bought and checked, a claim APPROVED and a claim for an
// uncovered diagnosis REJECTED by the contract.

import Foundation

final class Progress: KeygenProgressListener, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var calls: [(tested: UInt64, primes: UInt8, onMain: Bool)] = []

    func onProgress(progress: KeygenProgress) {
        lock.lock()
        defer { lock.unlock() }
        calls.append((progress.candidatesTested, progress.primesFound, Thread.isMainThread))
    }
}

/// A stand-in for the iOS Keychain.
final class Keystore: PlatformKeystore, @unchecked Sendable {
    var key: Data?
    var stores = 0

    func loadWalletKey() throws -> Data? { key }

    func storeWalletKey(key: Data) throws {
        stores += 1
        self.key = key
    }
}

final class Events: EventListener, @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [RelayEvent] = []
    private var connectedStates: [Bool] = []

    func onEvent(event: RelayEvent) {
        lock.lock()
        defer { lock.unlock() }
        queue.append(event)
    }

    func onConnectionChanged(connected: Bool) {
        lock.lock()
        defer { lock.unlock() }
        connectedStates.append(connected)
    }

    var connected: [Bool] { lock.lock(); defer { lock.unlock() }; return connectedStates }
    var pending: Int { lock.lock(); defer { lock.unlock() }; return queue.count }

    private func pop() -> RelayEvent? {
        lock.lock()
        defer { lock.unlock() }
        return queue.isEmpty ? nil : queue.removeFirst()
    }

    /// The next event of `kind`, skipping others.
    func next(_ kind: String, timeout: TimeInterval = 30) async throws -> RelayEvent {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let event = pop() {
                if event.kind == kind { return event }
                continue
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw Failure("no \(kind) event within \(timeout) s")
    }
}

func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

func newPatient(_ relay: Relay, _ name: String = "Alice") async throws -> (Wallet, RelayClient) {
    let wallet = try await createWallet(progress: Progress())
    let client = try RelayClient(baseUrl: relay.url, ledgerAudience: relay.audience, wallet: wallet)
    try await client.register(displayName: name)
    return (wallet, client)
}

func walletKeygenSealKeystoreAndBackup() async throws {
    let progress = Progress()
    let wallet = try await createWallet(progress: progress)
    let actor = try wallet.actorId()
    // "cc" and the hex of 20 bytes of SHA-256 over the compressed P-256 key.
    try expect(actor.count == 42 && actor.hasPrefix("cc") && actor.dropFirst(2).allSatisfy(\.isHexDigit), actor)
    // Keys were generated off the main thread, reporting progress.
    try expect(!progress.calls.isEmpty, "no progress reported")
    try expectEq(progress.calls.last?.primes, 2, "primes found")
    try expect(progress.calls.allSatisfy { !$0.onMain }, "progress reported on the main thread")

    let sealed = try wallet.sealWithPassphrase(passphrase: "correct horse battery")
    try expectEq(try Wallet.unlockWithPassphrase(sealed: sealed, passphrase: "correct horse battery").actorId(), actor, "unlocked")
    try await expectError("WrongSecret") { _ = try Wallet.unlockWithPassphrase(sealed: sealed, passphrase: "wrong") }
    try await expectError("InvalidInput") { _ = try wallet.sealWithPassphrase(passphrase: "") }

    let keystore = Keystore()
    let sealedByKey = try wallet.sealWithKeystore(keystore: keystore)
    try expect(keystore.stores == 1 && keystore.key?.count == 32, "one 32-byte key stored")
    try expectEq(try Wallet.unlockWithKeystore(sealed: sealedByKey, keystore: keystore).actorId(), actor, "keystore-unlocked")
    // The same key is reused, not replaced.
    _ = try wallet.sealWithKeystore(keystore: keystore)
    try expectEq(keystore.stores, 1, "stores")
    let other = Keystore()
    other.key = Data(count: 32)
    try await expectError("WrongSecret") { _ = try Wallet.unlockWithKeystore(sealed: sealedByKey, keystore: other) }
    other.key = Data("short".utf8)
    try await expectError("Keystore") { _ = try Wallet.unlockWithKeystore(sealed: sealedByKey, keystore: other) }
    // A passphrase-sealed file is not a key-sealed one.
    try await expectError("WalletUnusable") { _ = try Wallet.unlockWithKeystore(sealed: sealed, keystore: keystore) }

    let backup = try wallet.exportBackup(passphrase: "backup passphrase")
    try expectEq(try Wallet.importBackup(backup: backup, passphrase: "backup passphrase").actorId(), actor, "restored")
    try await expectError("WrongSecret") { _ = try Wallet.importBackup(backup: backup, passphrase: "nope") }
    try await expectError("WalletUnusable") {
        _ = try Wallet.importBackup(backup: sealed, passphrase: "correct horse battery")
    }
}

func theWholeStoryApprovedAndUncoveredRejected(_ relay: Relay) async throws {
    let (doctor, insurer) = try await staff(relay)
    let (wallet, phone) = try await newPatient(relay)
    let me = try wallet.actorId()
    let events = Events()
    let sub = try phone.subscribeEvents(listener: events, device: "phone-1", after: nil)
    defer { sub.stop() }

    // The doctor asks; the phone hears it through its listener.
    let requestId = try await doctor.requestAccess(patientId: me)
    let pushed = try await events.next("access_requested")
    try expectEq(try field(pushed.dataJson, "request"), requestId, "pushed request")
    try expect(events.connected.contains(true), "the listener was never told it is connected")
    let pending = try await phone.pendingRequests()
    try expectEq(pending.map(\.requestId), [requestId], "pending requests")
    try expectEq(pending[0].doctorId, doctor.actorId(), "doctor")
    try expectEq(pending[0].status, .pending, "status")
    try expectEq(Set(pending[0].actions), [.read, .write], "asked actions")
    try expectEq(pending[0].categories, nil, "asked categories")

    // The patient approves read and write on general records for a week.
    let week = now() + 7 * 86400
    try await phone.approve(requestId: requestId, actions: [.read, .write], categories: [.general], expiresAt: week)
    try expectEq(try await phone.pendingRequests(), [], "pending after approval")
    let grants = try await phone.grants()
    try expectEq(grants.map(\.requestId), [requestId], "grants")
    try expectEq(grants[0].expiresAt, week, "grant end")

    // The doctor writes a record; the phone decrypts it and checks E(code).
    let recordId = try await doctor.writeCondition(patientId: me, code: "E11.9")
    let written = try await events.next("record_written")
    try expectEq(try field(written.dataJson, "record"), recordId, "pushed record")
    let records = try await phone.records()
    try expectEq(records.map(\.recordId), [recordId], "records")
    let record = records[0]
    try expectEq(record.doctorId, doctor.actorId(), "record author")
    try expectEq(record.category, .general, "record category")
    try expectEq(try field(record.fhirJson, "resourceType"), "Condition", "FHIR resource")
    try expectEq(record.codeCheck, .verified(code: "E11.9"), "code check")

    // The doctor's read is logged and shows in the patient's access log.
    let fhir = try await doctor.readRecord(recordId: recordId)
    try expect(fhir.contains("\"E11.9\""), "the doctor read \(fhir)")
    let log = try await phone.accessLog()
    try expectEq(log.map { [$0.readerId, $0.recordId] }, [[doctor.actorId(), recordId]], "access log")

    // Insurance: a product covering E11.9, bought, issued and checked.
    let productId = try await insurer.publishProduct(name: "Diabetes cover", code: "E11.9", payout: 50_000)
    try expect(try await phone.products().contains { $0.productId == productId }, "product not listed")
    let policyId = try await phone.purchase(productId: productId)
    let bought = try await phone.policies()
    try expect(bought.count == 1 && bought[0].policyId == policyId && !bought[0].issued, "bought \(bought)")
    try expectEq(bought[0].check, .notIssued, "check before issue")
    try await insurer.issuePolicy(policyId: policyId)
    _ = try await events.next("policy_issued")
    let issued = try await phone.policies()
    try expect(issued.count == 1 && issued[0].issued, "issued \(issued)")
    try expectEq(issued[0].check, .computed, "policy check")

    // A diagnosis made during the policy's term, proven on the phone: APPROVED.
    let diagnosed = try await doctor.writeCondition(patientId: me, code: "E11.9")
    let claim = try await phone.fileClaim(policyId: policyId, recordId: diagnosed, fileIfUncovered: false)
    try expectEq(claim.decision, .approved(payout: 50_000, currency: "EUR"), "decision")
    let decided = try await events.next("claim_decided")
    try expectEq(try field(decided.dataJson, "claim"), claim.claimId, "pushed claim")

    // An uncovered diagnosis: refused on the phone unless asked, then REJECTED.
    let asthma = try await doctor.writeCondition(patientId: me, code: "J45.909")
    let refused = try await expectError("Refused") {
        _ = try await phone.fileClaim(policyId: policyId, recordId: asthma, fileIfUncovered: false)
    }
    guard case let .Refused(_, code, _) = refused else { throw Failure("not a refusal: \(refused)") }
    try expectEq(code, "not_covered", "refusal code")
    let rejected = try await phone.fileClaim(policyId: policyId, recordId: asthma, fileIfUncovered: true)
    try expectEq(rejected.decision, .rejected(reason: "proof_failed"), "uncovered decision")

    let decisions = Dictionary(uniqueKeysWithValues: try await phone.claims().map { ($0.claimId, $0.decision) })
    try expectEq(decisions, [claim.claimId: claim.decision, rejected.claimId: rejected.decision], "claims")

    // Every statement the patient signed is in the wallet's local log.
    let statements = try wallet.statementLog()
    try expectEq(statements.map(\.kind), ["register_identity", "grant", "purchase_policy", "file_claim", "file_claim"], "log")
    try expect(statements.allSatisfy { $0.token.filter { $0 == "." }.count == 2 }, "a logged statement is not a compact JWS")

    // Revoking ends the grant: the doctor can no longer write.
    try await phone.revoke(requestId: requestId)
    try expectEq(try await phone.grants(), [], "grants after revoke")
    do {
        _ = try await doctor.writeCondition(patientId: me, code: "E11.9")
        throw Failure("a write after the revocation was not refused")
    } catch let refused as CliFailed {
        try expect(refused.stderr.contains("the relay refused"), "not a refusal: \(refused.stderr)")
    }
    try expect(sub.lastAcknowledged() >= decided.id, "acknowledged \(sub.lastAcknowledged()) < \(decided.id)")
}

func aRecordWhoseEncryptedCodeDiffersIsFlagged(_ relay: Relay) async throws {
    let (doctor, _) = try await staff(relay)
    let (wallet, phone) = try await newPatient(relay, "Bob")
    let me = try wallet.actorId()
    let requestId = try await doctor.requestAccess(patientId: me)
    try await phone.approve(requestId: requestId, actions: [.write], categories: nil, expiresAt: now() + 3600)
    // The payload says I10, but E(code) encrypts E11.9.
    _ = try await doctor.writeCondition(patientId: me, code: "I10", encryptedCode: "E11.9")
    let records = try await phone.records()
    try expectEq(records.map(\.codeCheck), [.mismatch(inPayload: "I10", encrypted: "E11.9")], "code check")
    // Deny and unknown ids are refused cleanly.
    let second = try await doctor.requestAccess(patientId: me)
    try await phone.deny(requestId: second)
    let statuses = Dictionary(uniqueKeysWithValues: try await phone.accessRequests().map { ($0.requestId, $0.status) })
    try expectEq(statuses[second], .denied, "denied status")
    try await expectError("InvalidInput") { try await phone.deny(requestId: "not-a-uuid") }
    try await expectError("NotFound") { _ = try await phone.record(recordId: UUID().uuidString.lowercased()) }
}

func eventsResumeAfterTheLastAcknowledgedOne(_ relay: Relay) async throws {
    let (doctor, _) = try await staff(relay)
    let (wallet, phone) = try await newPatient(relay, "Carol")
    let me = try wallet.actorId()
    let first = Events()
    let sub = try phone.subscribeEvents(listener: first, device: "tablet", after: nil)
    let one = try await doctor.requestAccess(patientId: me)
    let got = try await first.next("access_requested")
    try expectEq(try field(got.dataJson, "request"), one, "first pushed request")
    // Wait until the relay confirms the ack stored, then drop the socket.
    let deadline = Date().addingTimeInterval(10)
    while sub.lastAcknowledged() < got.id && Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
    let acked = sub.lastAcknowledged()
    try expectEq(acked, got.id, "acknowledged id")
    sub.stop()
    try await Task.sleep(nanoseconds: 500_000_000)

    // Offline: two more requests arrive.
    let two = try await doctor.requestAccess(patientId: me)
    let three = try await doctor.requestAccess(patientId: me)

    // The same device resumes from the relay's stored cursor: the two new events, in order.
    let second = Events()
    let sub2 = try phone.subscribeEvents(listener: second, device: "tablet", after: nil)
    let a = try await second.next("access_requested")
    let b = try await second.next("access_requested")
    try expectEq([try field(a.dataJson, "request"), try field(b.dataJson, "request")], [two, three], "resumed")
    try expect(a.id > acked && b.id > a.id, "ids \(acked), \(a.id), \(b.id) not increasing")
    try await Task.sleep(nanoseconds: 500_000_000)
    try expectEq(second.pending, 0, "repeated events")
    sub2.stop()

    // Resuming explicitly after an id replays what followed it.
    let third = Events()
    let sub3 = try phone.subscribeEvents(listener: third, device: "other-device", after: acked)
    defer { sub3.stop() }
    try expectEq(try field(try await third.next("access_requested").dataJson, "request"), two, "replayed")
}

let relay: Relay
do {
    relay = try Relay.fromEnvironment()
} catch {
    print("\(error)")
    exit(2)
}
let status = await runAll([
    ("wallet_keygen_seal_keystore_and_backup", walletKeygenSealKeystoreAndBackup),
    ("the_whole_story_approved_and_uncovered_rejected", { try await theWholeStoryApprovedAndUncoveredRejected(relay) }),
    ("a_record_whose_encrypted_code_differs_is_flagged", { try await aRecordWhoseEncryptedCodeDiffersIsFlagged(relay) }),
    ("events_resume_after_the_last_acknowledged_one", { try await eventsResumeAfterTheLastAcknowledgedOne(relay) }),
])
exit(status)
