// The doctor, the insurer and the admin of the story, driven through the real
// `carechain` CLI (its path in CARECHAIN_CLI_BIN, built by tests/common.sh) as
// staff use it: each has its own keystore and login session in a temporary
// directory, and every answer is read from the CLI's `--json` output.

package carechain.story

import java.io.File
import java.nio.file.Files
import java.util.UUID

const val STAFF_PASSPHRASE = "staff-keystore-passphrase"
const val STAFF_PASSWORD = "a-good-password"

/** The CLI exited non-zero; `stderr` says why (a refusal reads "the relay refused …"). */
class CliFailed(args: List<String>, val stderr: String) :
    Exception("carechain ${args.joinToString(" ")}: ${stderr.trim()}")

/** One staff member: `carechain ROLE …` with its own keystore. */
class StaffCli(val relay: Relay, private val role: String, private val keystore: File, private val passphrase: String) {
    var actor: String = ""
        private set

    /** `carechain ROLE ARGS --json`: its standard output, or CliFailed. */
    fun run(vararg args: String, password: String? = null): String {
        val cli = System.getenv("CARECHAIN_CLI_BIN")
            ?: throw IllegalStateException("set CARECHAIN_CLI_BIN to the carechain CLI (run-kotlin.sh does)")
        val command = listOf(cli, role) + args + "--json"
        val builder = ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
        val stderr = Files.createTempFile("carechain-cli", ".err").toFile()
        builder.redirectError(stderr)
        builder.environment().apply {
            put("CARECHAIN_RELAY_URL", relay.url)
            put("CARECHAIN_LEDGER_AUDIENCE", relay.audience)
            put("CARECHAIN_KEYSTORE", keystore.path)
            put("CARECHAIN_PASSPHRASE", passphrase)
            if (password != null) put("CARECHAIN_PASSWORD", password)
        }
        val process = builder.start()
        val out = process.inputStream.bufferedReader().readText()
        val status = process.waitFor()
        val err = stderr.readText().also { stderr.delete() }
        if (status != 0) throw CliFailed(listOf(role) + args, err)
        return out
    }

    fun actorId(): String = actor

    /** A doctor asks for read and write on every record for 30 days. */
    fun requestAccess(patientId: String): String = field(run("request", patientId), "request")

    /** A doctor writes a Condition with `code`, a visit billed 1,000.00 EUR (above any test
     *  product's payout); `encryptedCode` plays a lying doctor. */
    fun writeCondition(patientId: String, code: String, encryptedCode: String? = null): String {
        val lie = if (encryptedCode == null) emptyArray() else arrayOf("--encrypted-code", encryptedCode)
        return field(run("write", patientId, "--condition", code, "--billed", "100000", *lie), "record")
    }

    /** A doctor's logged read: the record's FHIR JSON. */
    fun readRecord(recordId: String): String = run("read", recordId)

    /** An insurer publishes a one-item product covering `code`. */
    fun publishProduct(name: String, code: String, payout: ULong): String =
        field(run("publish", "--name", name, "--premium", "1000", "--item", "$code=$payout"), "product")

    /** An insurer issues a purchased policy under the patient's Paillier key. */
    fun issuePolicy(policyId: String) {
        run("issue", policyId)
    }

    companion object {
        /** A doctor or insurer: keys made, signed up, approved by `admin`, logged in. */
        fun enrol(admin: StaffCli, home: File, role: String, email: String, name: String): StaffCli {
            val member = StaffCli(admin.relay, role, File(home, "$role.keystore"), STAFF_PASSPHRASE)
            member.actor = field(member.run("init"), "actor")
            val account = member.run("register", "--email", email, "--name", name, password = STAFF_PASSWORD)
            expectEq(field(account, "status"), "pending", "a new account's status")
            admin.run("approve", field(account, "id"))
            member.run("login", "--email", email, password = STAFF_PASSWORD)
            return member
        }
    }
}

/** The relay's admin (its keystore copied) enrols a fresh doctor and insurer. */
fun staff(relay: Relay): Pair<StaffCli, StaffCli> {
    val home = Files.createTempDirectory("carechain-staff-").toFile().apply { deleteOnExit() }
    val keystore = File(home, "admin.keystore")
    relay.adminKeystore().copyTo(keystore)
    val admin = StaffCli(relay, "admin", keystore, KEYSTORE_PASSPHRASE)
    admin.run("login", "--email", ADMIN_EMAIL, password = ADMIN_PASSWORD)
    val tag = UUID.randomUUID().toString().take(8)
    val doctor = StaffCli.enrol(admin, home, "doctor", "doc-$tag@example.org", "Dr Who")
    val insurer = StaffCli.enrol(admin, home, "insurer", "ins-$tag@example.org", "Insure Co")
    return doctor to insurer
}
