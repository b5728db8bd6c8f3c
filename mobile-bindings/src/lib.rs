//! CareChain on the patient's phone: thin uniffi wrappers over
//! `carechain-client` and `carechain-core` for Kotlin, Swift (and Python,
//! for tests).
//!
//! - [`Wallet`]: keys generated on the phone (Paillier off the caller's thread,
//!   with a [`KeygenProgressListener`]), unlocked with a passphrase or with a
//!   key from the platform keystore ([`PlatformKeystore`]), encrypted backups,
//!   and the log of every statement the patient signed.
//! - [`RelayClient`]: a newtype over `carechain_client::PatientClient` run on
//!   a tokio runtime owned by the library: registration, challenge login,
//!   consent, records (decrypted and checked on the phone), insurance and
//!   claims (the zero proof is computed here), and the live event socket fed
//!   to an [`EventListener`].
//! - [`MobileError`]: only the cases an app handles differently.
//!
//! Every secret stays inside the library: no key crosses the FFI except the
//! wallet key exchanged with the platform keystore the app itself provides.

mod error;
mod events;
mod relay;
mod runtime;
mod types;
mod wallet;

pub use error::MobileError;
pub use events::{EventListener, EventSubscription};
pub use relay::RelayClient;
pub use types::*;
pub use wallet::{KeygenProgressListener, PlatformKeystore, Wallet, create_wallet};

uniffi::setup_scaffolding!();
