// The relay the script started on the host (its URL and data directory come
// from the environment), the assertions the story uses, and a small runner:
// XCTest is not needed for one executable.

import Foundation

let adminEmail = "admin@example.org"
let adminPassword = "admin-password-1"
let keystorePassphrase = "keystore-passphrase"

/// A running relay: its URL and what the admin needs to sign in.
struct Relay {
    let url: String
    let dataDir: String
    let audience = "carechain"

    static func fromEnvironment() throws -> Relay {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["CARECHAIN_RELAY_URL"], let dir = env["CARECHAIN_RELAY_DATA_DIR"] else {
            throw Failure("set CARECHAIN_RELAY_URL and CARECHAIN_RELAY_DATA_DIR to a running relay")
        }
        return Relay(url: url, dataDir: dir)
    }

    /// The path of the admin's keystore, which `carechain-relay` wrote.
    func adminKeystore() -> String { dataDir + "/admin.keystore" }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw Failure("line \(line): \(message())") }
}

func expectEq<T: Equatable>(_ actual: T, _ expected: T, _ what: String, line: Int = #line) throws {
    if actual != expected { throw Failure("line \(line): \(what): expected <\(expected)>, found <\(actual)>") }
}

/// The name of an error's enum case, e.g. "WrongSecret" or "Refused".
func caseName(_ error: Error) -> String {
    Mirror(reflecting: error).children.first?.label ?? String(describing: error)
}

/// Runs `body`, which must throw the MobileError case `name`; returns that error.
@discardableResult
func expectError(_ name: String, line: Int = #line, _ body: () async throws -> Void) async throws -> MobileError {
    do {
        try await body()
    } catch let error as MobileError {
        if caseName(error) == name { return error }
        throw Failure("line \(line): expected MobileError.\(name), found \(error)")
    }
    throw Failure("line \(line): expected MobileError.\(name), nothing was thrown")
}

/// A string field of a JSON object, e.g. "request" of a pushed event's data.
func field(_ json: String, _ name: String) throws -> String {
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    guard let value = object?[name] as? String else { throw Failure("no string field \(name) in \(json)") }
    return value
}

/// Runs each test, prints PASSED/FAILED per test and a closing count line; the exit status.
func runAll(_ tests: [(String, () async throws -> Void)]) async -> Int32 {
    var passed = 0
    var failed = 0
    for (name, test) in tests {
        let started = Date()
        do {
            try await test()
            passed += 1
            print("\(name) PASSED (\(Int(Date().timeIntervalSince(started) * 1000)) ms)")
        } catch {
            failed += 1
            print("\(name) FAILED: \(error)")
        }
    }
    print("swift: \(passed) passed, \(failed) failed")
    return failed == 0 && passed > 0 ? 0 : 1
}
