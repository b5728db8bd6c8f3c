// The doctor, the insurer and the admin of the story, driven through the real
// `carechain` CLI (its path in CARECHAIN_CLI_BIN, built by tests/common.sh) as
// staff use it: each has its own keystore and login session in a temporary
// directory, and every answer is read from the CLI's `--json` output.

import Foundation

let staffPassphrase = "staff-keystore-passphrase"
let staffPassword = "a-good-password"

/// The CLI exited non-zero; `stderr` says why (a refusal reads "the relay refused …").
struct CliFailed: Error, CustomStringConvertible {
    let args: [String]
    let stderr: String
    var description: String { "carechain \(args.joined(separator: " ")): \(stderr)" }
}

/// One staff member: `carechain ROLE …` with its own keystore.
final class StaffCli: @unchecked Sendable {
    let relay: Relay
    private let role: String
    private let keystore: String
    private let passphrase: String
    private(set) var actor = ""

    init(_ relay: Relay, role: String, keystore: String, passphrase: String) {
        self.relay = relay
        self.role = role
        self.keystore = keystore
        self.passphrase = passphrase
    }

    /// `carechain ROLE ARGS --json`: its standard output, or CliFailed.
    @discardableResult
    func run(_ args: String..., password: String? = nil) async throws -> String {
        try await run(arguments: args, password: password)
    }

    /// `run` with the arguments as an array.
    func run(arguments args: [String], password: String?) async throws -> String {
        var env = ProcessInfo.processInfo.environment
        guard let cli = env["CARECHAIN_CLI_BIN"] else {
            throw Failure("set CARECHAIN_CLI_BIN to the carechain CLI (run-swift.sh does)")
        }
        env["CARECHAIN_RELAY_URL"] = relay.url
        env["CARECHAIN_LEDGER_AUDIENCE"] = relay.audience
        env["CARECHAIN_KEYSTORE"] = keystore
        env["CARECHAIN_PASSPHRASE"] = passphrase
        env["CARECHAIN_PASSWORD"] = password
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cli)
        process.arguments = [role] + args + ["--json"]
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw CliFailed(args: [role] + args, stderr: stderr) }
        return stdout
    }

    func actorId() -> String { actor }

    /// A doctor asks for read and write on every record for 30 days.
    func requestAccess(patientId: String) async throws -> String {
        try field(try await run("request", patientId), "request")
    }

    /// A doctor writes a Condition with `code`, a visit billed 1,000.00 EUR (above any test
    /// product's payout); `encryptedCode` plays a lying doctor.
    func writeCondition(patientId: String, code: String, encryptedCode: String? = nil) async throws -> String {
        var args = ["write", patientId, "--condition", code, "--billed", "100000"]
        if let lie = encryptedCode { args += ["--encrypted-code", lie] }
        return try field(try await run(arguments: args, password: nil), "record")
    }

    /// A doctor's logged read: the record's FHIR JSON.
    func readRecord(recordId: String) async throws -> String {
        try await run("read", recordId)
    }

    /// An insurer publishes a one-item product covering `code`.
    func publishProduct(name: String, code: String, payout: UInt64) async throws -> String {
        try field(try await run("publish", "--name", name, "--premium", "1000", "--item", "\(code)=\(payout)"), "product")
    }

    /// An insurer issues a purchased policy under the patient's Paillier key.
    func issuePolicy(policyId: String) async throws {
        try await run("issue", policyId)
    }

    /// A doctor or insurer: keys made, signed up, approved by `admin`, logged in.
    static func enrol(_ admin: StaffCli, home: String, role: String, email: String, name: String) async throws -> StaffCli {
        let member = StaffCli(admin.relay, role: role, keystore: "\(home)/\(role).keystore", passphrase: staffPassphrase)
        member.actor = try field(try await member.run("init"), "actor")
        let account = try await member.run("register", "--email", email, "--name", name, password: staffPassword)
        try expectEq(try field(account, "status"), "pending", "a new account's status")
        try await admin.run("approve", try field(account, "id"))
        try await member.run("login", "--email", email, password: staffPassword)
        return member
    }
}

/// The relay's admin (its keystore copied) enrols a fresh doctor and insurer.
func staff(_ relay: Relay) async throws -> (doctor: StaffCli, insurer: StaffCli) {
    let home = NSTemporaryDirectory() + "carechain-staff-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    let keystore = "\(home)/admin.keystore"
    try FileManager.default.copyItem(atPath: relay.adminKeystore(), toPath: keystore)
    let admin = StaffCli(relay, role: "admin", keystore: keystore, passphrase: keystorePassphrase)
    try await admin.run("login", "--email", adminEmail, password: adminPassword)
    let tag = UUID().uuidString.prefix(8).lowercased()
    let doctor = try await StaffCli.enrol(admin, home: home, role: "doctor", email: "doc-\(tag)@example.org", name: "Dr Who")
    let insurer = try await StaffCli.enrol(admin, home: home, role: "insurer", email: "ins-\(tag)@example.org", name: "Insure Co")
    return (doctor, insurer)
}
