//! The contract's read-only queries: their names and arguments, encoded and
//! decoded in one place for the contract, the relay and the client.
//!
//! Arguments are UTF-8 strings, Fabric style. Ids must be one path segment
//! (1 to 64 characters, no `/` or NUL), so a query cannot reach another
//! table; list queries take `(owner, after, limit)` with an empty `after` for
//! the first page and `limit` in `1..=`[`MAX_PAGE`].

use crate::ids::ActorId;
use crate::statement::{RecordCategory, Scope};

/// Default and largest page size.
pub const MAX_PAGE: usize = 100;

/// Why a query's name or arguments were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The name is not a query the contract knows.
    #[error("unknown query {0:?}")]
    UnknownQuery(String),
    /// The arguments do not have the expected count or form.
    #[error("{0}")]
    BadArguments(String),
}

/// Where a page starts and how long it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageArgs {
    /// The cursor of the previous page's `next`; `None` for the first page.
    pub after: Option<String>,
    /// The most items, `1..=MAX_PAGE`.
    pub limit: usize,
}

impl Default for PageArgs {
    fn default() -> Self {
        Self {
            after: None,
            limit: MAX_PAGE,
        }
    }
}

impl PageArgs {
    /// A page of at most `limit` items after `after`.
    pub fn new(after: Option<String>, limit: usize) -> Self {
        Self { after, limit }
    }
}

macro_rules! queries {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal { $($field:ident : $kind:ident),* }
    ,)*) => {
        /// A query the contract answers.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Query {
            $($(#[$doc])* $variant { $(
                #[doc = concat!("The `", stringify!($field), "` argument.")]
                $field: queries!(@type $kind)
            ),* },)*
        }

        impl Query {
            /// Every query name.
            pub const NAMES: &'static [&'static str] = &[$($name,)*];

            /// The query's function name on the ledger.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Query::$variant { .. } => $name,)*
                }
            }

            /// The query's arguments, as the contract reads them.
            pub fn args(&self) -> Vec<Vec<u8>> {
                let mut args: Vec<Vec<u8>> = Vec::new();
                match self {
                    $(Query::$variant { $($field),* } => {
                        $(queries!(@encode $kind, $field, args);)*
                    })*
                }
                args
            }

            /// Decodes a query from its function name and arguments.
            // The argument cursor advances after the last argument too.
            #[allow(unused_assignments)]
            pub fn decode(name: &str, args: &[Vec<u8>]) -> Result<Self, QueryError> {
                match name {
                    $($name => {
                        #[allow(unused_mut, unused_variables)]
                        let mut at = 0usize;
                        $(let $field = queries!(@decode $kind, args, at, stringify!($field));)*
                        Ok(Query::$variant { $($field),* })
                    })*
                    other => Err(QueryError::UnknownQuery(other.chars().take(64).collect())),
                }
            }
        }
    };
    (@type id) => { String };
    (@type page) => { PageArgs };
    (@type actor) => { ActorId };
    (@type category) => { RecordCategory };
    (@type scope) => { Scope };
    (@encode id, $v:ident, $args:ident) => { $args.push($v.as_bytes().to_vec()) };
    (@encode actor, $v:ident, $args:ident) => { $args.push($v.as_str().as_bytes().to_vec()) };
    (@encode category, $v:ident, $args:ident) => {
        $args.push(match serde_json::to_value($v) {
            Ok(serde_json::Value::String(name)) => name.into_bytes(),
            _ => Vec::new(),
        })
    };
    (@encode scope, $v:ident, $args:ident) => { $args.push(scope_text($v).into_bytes()) };
    (@encode page, $v:ident, $args:ident) => {{
        $args.push($v.after.clone().unwrap_or_default().into_bytes());
        $args.push($v.limit.to_string().into_bytes());
    }};
    (@decode id, $args:ident, $at:ident, $name:expr) => {{
        let v = segment(arg($args, $at, $name)?, $name)?.to_owned();
        $at += 1;
        v
    }};
    (@decode actor, $args:ident, $at:ident, $name:expr) => {{
        let v: ActorId = arg($args, $at, $name)?
            .parse()
            .map_err(|err| QueryError::BadArguments(format!("{}: {err}", $name)))?;
        $at += 1;
        v
    }};
    (@decode category, $args:ident, $at:ident, $name:expr) => {{
        let text = arg($args, $at, $name)?;
        let v: RecordCategory = serde_json::from_value(serde_json::Value::String(text.into()))
            .map_err(|err| QueryError::BadArguments(format!("{}: {err}", $name)))?;
        $at += 1;
        v
    }};
    (@decode scope, $args:ident, $at:ident, $name:expr) => {{
        let v = parse_scope(arg($args, $at, $name)?)?;
        $at += 1;
        v
    }};
    (@decode page, $args:ident, $at:ident, $name:expr) => {{
        let after = opt_arg($args, $at).map(str::to_owned);
        let limit = limit($args, $at + 1)?;
        $at += 2;
        PageArgs { after, limit }
    }};
}

queries! {
    /// The ledger configuration.
    Config = "config" {},
    /// The transaction that used the nonce `jti` of `issuer`.
    Statement = "statement" { issuer: id, jti: id },
    /// An identity.
    Identity = "identity" { actor: id },
    /// An access request.
    Request = "request" { request: id },
    /// A patient's access requests.
    RequestsForPatient = "requests_for_patient" { patient: id, page: page },
    /// A doctor's access requests.
    RequestsByDoctor = "requests_by_doctor" { doctor: id, page: page },
    /// A record.
    Record = "record" { record: id },
    /// A record's data key wrapped for one reader.
    RecordKey = "record_key" { record: id, reader: id },
    /// A patient's records.
    RecordsForPatient = "records_for_patient" { patient: id, page: page },
    /// A patient's records, each with its data key wrapped for `reader`.
    RecordsWithKeys = "records_with_keys" { patient: id, reader: id, page: page },
    /// The patient's own wrapped data keys of every record in `scope`.
    OwnKeys = "own_keys" { patient: id, scope: scope },
    /// Whom a new record of `category` of `patient` must be wrapped for.
    Readers = "readers" { patient: actor, category: category },
    /// The reads of a patient's records by others.
    AccessLog = "access_log" { patient: id, page: page },
    /// A product.
    Product = "product" { product: id },
    /// Every product.
    Products = "products" { page: page },
    /// A policy.
    Policy = "policy" { policy: id },
    /// A patient's policies.
    PoliciesForPatient = "policies_for_patient" { patient: id, page: page },
    /// An insurer's policies.
    PoliciesForInsurer = "policies_for_insurer" { insurer: id, page: page },
    /// A claim.
    Claim = "claim" { claim: id },
    /// A patient's claims.
    ClaimsForPatient = "claims_for_patient" { patient: id, page: page },
    /// An insurer's claims.
    ClaimsForInsurer = "claims_for_insurer" { insurer: id, page: page },
}

/// A scope as one argument: `all`, or category names separated by commas.
pub fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::All => "all".to_owned(),
        Scope::Categories(list) => list
            .iter()
            .filter_map(|c| match serde_json::to_value(c) {
                Ok(serde_json::Value::String(name)) => Some(name),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Parses [`scope_text`]'s form.
pub fn parse_scope(text: &str) -> Result<Scope, QueryError> {
    if text == "all" {
        return Ok(Scope::All);
    }
    let categories = text
        .split(',')
        .map(|name| {
            serde_json::from_value::<RecordCategory>(serde_json::Value::String(name.into()))
                .map_err(|_| {
                    QueryError::BadArguments(format!(
                        "scope: expected `all` or record categories separated by commas, found {:?}",
                        name.chars().take(64).collect::<String>()
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scope::Categories(categories))
}

fn arg<'a>(args: &'a [Vec<u8>], i: usize, name: &str) -> Result<&'a str, QueryError> {
    let bytes = args
        .get(i)
        .ok_or_else(|| QueryError::BadArguments(format!("missing argument {i} ({name})")))?;
    std::str::from_utf8(bytes)
        .map_err(|_| QueryError::BadArguments(format!("argument {i} ({name}) is not UTF-8")))
}

fn opt_arg(args: &[Vec<u8>], i: usize) -> Option<&str> {
    args.get(i)
        .and_then(|b| std::str::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
}

/// Checks that an id argument is a single path segment, so it cannot reach other tables.
fn segment<'a>(value: &'a str, name: &str) -> Result<&'a str, QueryError> {
    if value.is_empty() || value.len() > 64 || value.contains('/') || value.contains('\0') {
        return Err(QueryError::BadArguments(format!(
            "{name}: expected an id of 1 to 64 characters without '/', found {:?}",
            value.chars().take(64).collect::<String>()
        )));
    }
    Ok(value)
}

fn limit(args: &[Vec<u8>], i: usize) -> Result<usize, QueryError> {
    match opt_arg(args, i) {
        None => Ok(MAX_PAGE),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                QueryError::BadArguments(format!("limit: expected 1..={MAX_PAGE}, found {text:?}"))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_decodes_from_its_own_encoding() {
        let patient: ActorId = format!("cc{}", "a".repeat(40)).parse().unwrap();
        for query in [
            Query::Config {},
            Query::Statement {
                issuer: patient.to_string(),
                jti: "n1".into(),
            },
            Query::RecordsForPatient {
                patient: patient.to_string(),
                page: PageArgs::new(Some("r9".into()), 10),
            },
            Query::Products {
                page: PageArgs::default(),
            },
            Query::Readers {
                patient: patient.clone(),
                category: RecordCategory::General,
            },
            Query::OwnKeys {
                patient: patient.to_string(),
                scope: Scope::Categories(vec![
                    RecordCategory::Laboratory,
                    RecordCategory::MentalHealth,
                ]),
            },
            Query::OwnKeys {
                patient: patient.to_string(),
                scope: Scope::All,
            },
        ] {
            assert_eq!(Query::decode(query.name(), &query.args()), Ok(query));
        }
    }

    #[test]
    fn bad_names_ids_and_limits_are_refused() {
        assert_eq!(
            Query::decode("drop_table", &[]),
            Err(QueryError::UnknownQuery("drop_table".into()))
        );
        for id in ["", "a/b", "a\0b"] {
            assert!(matches!(
                Query::decode("record", &[id.as_bytes().to_vec()]),
                Err(QueryError::BadArguments(_))
            ));
        }
        for limit in ["0", "101", "x"] {
            assert!(matches!(
                Query::decode("products", &[vec![], limit.as_bytes().to_vec()]),
                Err(QueryError::BadArguments(_))
            ));
        }
        assert!(matches!(
            Query::decode("record_key", &[b"r".to_vec()]),
            Err(QueryError::BadArguments(_))
        ));
        for scope in ["", "everything", "general,", "general,nope"] {
            assert!(matches!(
                Query::decode("own_keys", &[b"p".to_vec(), scope.as_bytes().to_vec()]),
                Err(QueryError::BadArguments(_))
            ));
        }
        // An empty or absent page is the first page of MAX_PAGE.
        assert_eq!(
            Query::decode("products", &[]),
            Ok(Query::Products {
                page: PageArgs::default()
            })
        );
    }
}
