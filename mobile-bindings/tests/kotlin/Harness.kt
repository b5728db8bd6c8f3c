// A real `carechain-relay` on a temporary data directory and a free loopback
// port (as tests/python/conftest.py starts it), the assertions the story
// uses, and a small runner: JUnit is not packaged for the JVM here.

package carechain.story

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URL
import java.nio.file.Files
import java.util.concurrent.TimeUnit

const val ADMIN_EMAIL = "admin@example.org"
const val ADMIN_PASSWORD = "admin-password-1"
const val KEYSTORE_PASSPHRASE = "keystore-passphrase"
const val LEDGER_AUDIENCE = "carechain"

/** A running relay: its URL and what the admin needs to sign in. */
class Relay private constructor(val url: String, private val dataDir: File, private val process: Process) :
    AutoCloseable {
    val audience = LEDGER_AUDIENCE

    fun adminKeystore(): ByteArray = File(dataDir, "admin.keystore").readBytes()

    override fun close() {
        process.destroy()
        if (!process.waitFor(20, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        fun start(binary: String): Relay {
            val workdir = Files.createTempDirectory("carechain-kt-").toFile()
            val dataDir = File(workdir, "data")
            val port = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
            val log = File(workdir, "relay.log")
            val builder = ProcessBuilder(binary, "serve", "--admin-email", ADMIN_EMAIL)
                .directory(workdir)
                .redirectErrorStream(true)
                .redirectOutput(log)
                .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
            val env = builder.environment()
            env.remove("DATABASE_URL")
            env.remove("CARECHAIN_DATABASE_URL")
            env["CARECHAIN_ADMIN_PASSPHRASE"] = KEYSTORE_PASSPHRASE
            env["CARECHAIN_ADMIN_PASSWORD"] = ADMIN_PASSWORD
            env["CARECHAIN_LISTEN"] = "127.0.0.1:$port"
            env["CARECHAIN_DATA_DIR"] = dataDir.path
            env["CARECHAIN_LEDGER_AUDIENCE"] = LEDGER_AUDIENCE
            env["CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE"] = "1000"
            env["CARECHAIN_WORKERS"] = "2"
            env["RUST_LOG"] = System.getenv("RUST_LOG") ?: "warn"
            val process = builder.start()
            val url = "http://127.0.0.1:$port"
            val deadline = System.currentTimeMillis() + 60_000
            while (!ready(url)) {
                if (!process.isAlive || System.currentTimeMillis() > deadline) {
                    process.destroyForcibly()
                    throw IllegalStateException("the relay did not start:\n" + log.readText())
                }
                Thread.sleep(200)
            }
            return Relay(url, dataDir, process)
        }

        private fun ready(url: String): Boolean = try {
            val conn = URL("$url/readyz").openConnection() as HttpURLConnection
            conn.connectTimeout = 2000
            conn.readTimeout = 2000
            try {
                conn.responseCode == 200
            } finally {
                conn.disconnect()
            }
        } catch (e: java.io.IOException) {
            false
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
