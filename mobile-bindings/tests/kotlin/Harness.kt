// The relay run-kotlin.sh started (tests/common.sh `start_relay`; its URL and
// data directory come from the environment), the assertions the story uses,
// and a small runner: JUnit is not packaged for the JVM here.

package carechain.story

import java.io.File

const val ADMIN_EMAIL = "admin@example.org"
const val ADMIN_PASSWORD = "admin-password-1"
const val KEYSTORE_PASSPHRASE = "keystore-passphrase"
const val LEDGER_AUDIENCE = "carechain"

/** A running relay: its URL and what the admin needs to sign in. */
class Relay(val url: String, private val dataDir: File) {
    val audience = LEDGER_AUDIENCE

    /** The admin's keystore, which `carechain-relay` wrote. */
    fun adminKeystore(): File = File(dataDir, "admin.keystore")

    companion object {
        fun fromEnvironment(): Relay {
            val url = System.getenv("CARECHAIN_RELAY_URL")
            val dir = System.getenv("CARECHAIN_RELAY_DATA_DIR")
            if (url == null || dir == null) {
                throw IllegalStateException("set CARECHAIN_RELAY_URL and CARECHAIN_RELAY_DATA_DIR to a running relay")
            }
            return Relay(url, File(dir))
        }
    }
}

class AssertionFailed(message: String) : AssertionError(message)

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionFailed(message())
}

fun <T> expectEq(actual: T, expected: T, what: String = "value") {
    if (actual != expected) throw AssertionFailed("$what: expected <$expected>, found <$actual>")
}

/** Runs `block` and returns the exception of type `E` it threw; fails otherwise. */
inline fun <reified E : Throwable> expectThrows(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionFailed("expected ${E::class.simpleName}, found $e")
    }
    throw AssertionFailed("expected ${E::class.simpleName}, nothing was thrown")
}

/** Runs each test, prints PASSED/FAILED per test and a closing count line; the exit status. */
fun runAll(tests: List<Pair<String, () -> Unit>>): Int {
    var passed = 0
    var failed = 0
    for ((name, test) in tests) {
        val started = System.nanoTime()
        try {
            test()
            passed++
            println("$name PASSED (${(System.nanoTime() - started) / 1_000_000} ms)")
        } catch (e: Throwable) {
            failed++
            println("$name FAILED")
            e.printStackTrace(System.out)
        }
    }
    println("kotlin: $passed passed, $failed failed")
    return if (failed == 0 && passed > 0) 0 else 1
}
