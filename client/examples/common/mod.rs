//! What the client's examples share: the admin's login and enrolling
//! approved staff.

use carechain_client::StaffClient;
use carechain_core::OsRng;
use carechain_core::statement::Role;
use carechain_core::wallet::StaffKeys;
use carechain_testkit::process::{
    ADMIN_EMAIL, ADMIN_PASSWORD, KEYSTORE_PASSPHRASE, LEDGER_AUDIENCE,
};

/// An example's error.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The test relay's admin, logged in at `url` with the keystore `keystore`.
pub async fn admin(url: &str, keystore: &[u8]) -> Result<StaffClient, Error> {
    let keys = StaffKeys::open(keystore, KEYSTORE_PASSPHRASE)?;
    let admin = StaffClient::new(url, LEDGER_AUDIENCE, keys)?;
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    Ok(admin)
}

/// A new `role` account named `name`, signed up, approved by `admin` and
/// logged in.
pub async fn enrol(admin: &StaffClient, role: Role, name: &str) -> Result<StaffClient, Error> {
    let staff = StaffClient::new(
        admin.session().base().as_str(),
        LEDGER_AUDIENCE,
        StaffKeys::generate(&mut OsRng),
    )?;
    let email = format!("{name}@example.org");
    let password = "staff-password-1";
    let account = staff.sign_up(role, &email, password, name).await?;
    admin.approve_account(&account).await?;
    staff.login(&email, password).await?;
    Ok(staff)
}
