//! Typed configuration: defaults, then an optional TOML file, then
//! `CARECHAIN_*` environment variables (and `DATABASE_URL`). Loaded once in
//! `main` and handed to the app as `web::Data`. Secrets are never in the
//! file: the JWT key comes from `CARECHAIN_JWT_SECRET` or a 0600 file in the
//! data directory created at first start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore as _};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("invalid configuration {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: Box<toml::de::Error>,
    },
    /// An environment variable has the wrong form.
    #[error("invalid environment variable {name}: expected {expected}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A setting is outside the range it must be in.
    #[error("invalid setting {name}: expected {expected}, found {found}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// The secret key file could not be created or read.
    #[error("secret key {path}: {reason}")]
    Secret {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The relay's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the embedded ledger and the key file.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; otherwise SQLite at `data_dir/relay.sqlite`.
    pub database_url: Option<String>,
    /// Database pool size.
    pub pool_size: u32,
    /// The relay's JWT issuer and audience (and the `aud` of patient login proofs).
    pub audience: String,
    /// The ledger audience fixed at `init` (the `aud` of every statement).
    pub ledger_audience: String,
    /// Access token lifetime, seconds.
    pub access_token_ttl_secs: i64,
    /// Refresh token lifetime, seconds.
    pub refresh_token_ttl_secs: i64,
    /// A refresh token presented again within this many seconds of its use
    /// is the same client's concurrent request (refused, the session kept);
    /// later, a replay of a stolen token (the session revoked).
    pub refresh_reuse_grace_secs: i64,
    /// Patient login challenge lifetime, seconds.
    pub challenge_ttl_secs: i64,
    /// Failed logins allowed per minute per account from one client (four
    /// times that per client across accounts); correct logins are not counted.
    pub login_attempts_per_minute: u32,
    /// Doctor and insurer sign-ups allowed per hour from one client address.
    pub signups_per_client_per_hour: u32,
    /// Sign-ups allowed per hour from all clients together.
    pub signups_per_hour: u32,
    /// Patient registrations allowed per hour from one client address.
    pub patient_registrations_per_client_per_hour: u32,
    /// Patient registrations allowed per hour from all clients together.
    pub patient_registrations_per_hour: u32,
    /// The largest Paillier modulus a patient may register, in bits
    /// (2048..=8192); refused before the ledger spends any work on the key.
    /// A new ledger's `init` fixes the same cap in the contract.
    pub paillier_max_bits: u32,
    /// Largest JSON body accepted, bytes.
    pub json_limit_bytes: usize,
    /// The load balancers or proxies (CIDRs) whose `X-Forwarded-For` names
    /// the client the rate limits count; none by default.
    pub trusted_proxies: crate::auth::client_ip::TrustedProxies,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Which ledger the relay forwards to.
    pub ledger: LedgerKind,
    /// The Fabric peer, identity, channel and chaincode (`[fabric]`), used
    /// when `ledger = "fabric"`.
    pub fabric: Option<carechain_ledger::fabric::FabricConfig>,
}

/// Which ledger backend the relay uses.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    /// The in-process, hash-chained ledger in `data_dir/ledger` (one machine).
    #[default]
    Embedded,
    /// A Hyperledger Fabric peer's Gateway, configured in `[fabric]`.
    Fabric,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            pool_size: 8,
            audience: "carechain-relay".into(),
            ledger_audience: "carechain".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 86_400,
            refresh_reuse_grace_secs: 5,
            challenge_ttl_secs: 120,
            login_attempts_per_minute: 5,
            signups_per_client_per_hour: 10,
            signups_per_hour: 100,
            patient_registrations_per_client_per_hour: 20,
            patient_registrations_per_hour: 1000,
            paillier_max_bits: carechain_chaincode::contract::DEFAULT_MAX_PAILLIER_BITS,
            json_limit_bytes: 2 * 1024 * 1024,
            trusted_proxies: Default::default(),
            workers: 0,
            ledger: LedgerKind::Embedded,
            fabric: None,
        }
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings that have a range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (
            carechain_core::paillier::MIN_MODULUS_BITS,
            carechain_core::paillier::MAX_MODULUS_BITS,
        );
        if !usize::try_from(self.paillier_max_bits).is_ok_and(|b| (min..=max).contains(&b)) {
            return Err(ConfigError::Invalid {
                name: "paillier_max_bits",
                expected: format!("{min}..={max} bits"),
                found: self.paillier_max_bits.to_string(),
            });
        }
        Ok(())
    }

    /// Overrides fields from environment variables read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        /// Parses variable `name` into `field` when it is set.
        fn set<T: std::str::FromStr>(
            var: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            expected: &'static str,
            field: &mut T,
        ) -> Result<(), ConfigError> {
            if let Some(value) = var(name) {
                *field = value
                    .parse()
                    .map_err(|_| ConfigError::Env { name, expected })?;
            }
            Ok(())
        }
        set(&var, "CARECHAIN_LISTEN", "host:port", &mut self.listen)?;
        set(&var, "CARECHAIN_DATA_DIR", "a path", &mut self.data_dir)?;
        if let Some(v) = var("DATABASE_URL").or_else(|| var("CARECHAIN_DATABASE_URL")) {
            self.database_url = Some(v);
        }
        set(&var, "CARECHAIN_POOL_SIZE", "a number", &mut self.pool_size)?;
        set(&var, "CARECHAIN_AUDIENCE", "text", &mut self.audience)?;
        set(
            &var,
            "CARECHAIN_LEDGER_AUDIENCE",
            "text",
            &mut self.ledger_audience,
        )?;
        let attempts = &mut self.login_attempts_per_minute;
        set(
            &var,
            "CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE",
            "a number",
            attempts,
        )?;
        set(&var, "CARECHAIN_WORKERS", "a number", &mut self.workers)?;
        for (name, field) in [
            (
                "CARECHAIN_SIGNUPS_PER_CLIENT_PER_HOUR",
                &mut self.signups_per_client_per_hour,
            ),
            ("CARECHAIN_SIGNUPS_PER_HOUR", &mut self.signups_per_hour),
            (
                "CARECHAIN_PATIENT_REGISTRATIONS_PER_CLIENT_PER_HOUR",
                &mut self.patient_registrations_per_client_per_hour,
            ),
            (
                "CARECHAIN_PATIENT_REGISTRATIONS_PER_HOUR",
                &mut self.patient_registrations_per_hour,
            ),
        ] {
            set(&var, name, "a number", field)?;
        }
        let bits = &mut self.paillier_max_bits;
        set(
            &var,
            "CARECHAIN_PAILLIER_MAX_BITS",
            "a number of bits",
            bits,
        )?;
        if let Some(list) = var("CARECHAIN_TRUSTED_PROXIES") {
            self.trusted_proxies = crate::auth::client_ip::TrustedProxies::parse_list(&list)
                .ok_or(ConfigError::Env {
                    name: "CARECHAIN_TRUSTED_PROXIES",
                    expected: "comma-separated CIDRs or IP addresses",
                })?;
        }
        match var("CARECHAIN_LEDGER").as_deref() {
            None => {}
            Some("embedded") => self.ledger = LedgerKind::Embedded,
            Some("fabric") => self.ledger = LedgerKind::Fabric,
            Some(_) => {
                return Err(ConfigError::Env {
                    name: "CARECHAIN_LEDGER",
                    expected: "embedded or fabric",
                });
            }
        }
        Ok(())
    }

    /// The database URL: the configured one or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => self.data_dir.join("relay.sqlite").display().to_string(),
        }
    }

    /// The embedded ledger's directory.
    pub fn ledger_dir(&self) -> PathBuf {
        self.data_dir.join("ledger")
    }

    /// The JWT signing secret: `CARECHAIN_JWT_SECRET` (base64url), else
    /// `data_dir/jwt-secret`, created with 32 random bytes and mode 0600.
    pub fn jwt_secret(&self) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
        let path = self.data_dir.join("jwt-secret");
        let fail = |reason: String| ConfigError::Secret {
            path: path.clone(),
            reason,
        };
        if let Ok(text) = std::env::var("CARECHAIN_JWT_SECRET") {
            let key = URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| fail("CARECHAIN_JWT_SECRET is not base64url".into()))?;
            if key.len() < 32 {
                return Err(fail(
                    "CARECHAIN_JWT_SECRET must hold at least 32 bytes".into(),
                ));
            }
            return Ok(Zeroizing::new(key));
        }
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(key.as_mut());
            let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(key.as_ref()));
            crate::keystore::write_private(&path, encoded.as_bytes(), false)
                .map_err(|e| fail(e.to_string()))?;
        }
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?);
        let key = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| fail("not base64url".into()))?;
        Ok(Zeroizing::new(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../relay.example.toml");
        assert!(toml::from_str::<Config>(text).is_ok());
    }

    #[test]
    fn unknown_fields_are_refused_and_env_overrides_the_file() {
        assert!(toml::from_str::<Config>("listne = \"x\"").is_err());
        let mut config: Config =
            toml::from_str("audience = \"a\"\npool_size = 3").unwrap_or_default();
        assert_eq!(config.audience, "a");
        config
            .apply_env(|name| (name == "CARECHAIN_POOL_SIZE").then(|| "5".to_owned()))
            .ok();
        assert_eq!(config.pool_size, 5);
        assert!(
            config
                .apply_env(|name| (name == "CARECHAIN_LISTEN").then(|| "nope".to_owned()))
                .is_err()
        );
    }

    #[test]
    fn the_paillier_cap_is_3072_bits_and_must_stay_in_range() {
        assert_eq!(Config::default().paillier_max_bits, 3072);
        for (bits, ok) in [
            (2048, true),
            (4096, true),
            (8192, true),
            (1024, false),
            (8193, false),
        ] {
            let config = Config {
                paillier_max_bits: bits,
                ..Config::default()
            };
            assert_eq!(config.validate().is_ok(), ok, "{bits}");
        }
    }
}
