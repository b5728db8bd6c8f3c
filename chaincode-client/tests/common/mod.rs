//! A small key-value/counter contract for the ledger tests and helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use carechain_chaincode::{Chaincode, ChaincodeError, Stub, Timestamp};
use carechain_ledger::{EmbeddedLedger, EmbeddedOptions, FixedClock, Proposal};

/// The test contract. Functions (arguments are UTF-8):
/// - `put k v`: writes, emits `put` with `k`, returns the previous value;
/// - `get k`: returns the value, 404 `not_found` if absent;
/// - `del k`: deletes, emits `del`;
/// - `incr k`: adds one to a decimal counter, returns the new value, emits `incr`;
/// - `put_then_get k v`: writes then reads `k` (must see the old value);
/// - `range a b`: `k=v;` for keys in `[a, b)`;
/// - `history k`: `tx_id:value:deleted;` per write;
/// - `refuse k`: writes then refuses with 409 `conflict`;
/// - `panic k`: writes then panics;
/// - `now`: the tx timestamp and tx id.
pub struct KvContract;

fn refuse(status: u16, code: &str, message: impl Into<String>) -> ChaincodeError {
    ChaincodeError {
        status,
        code: code.into(),
        message: message.into(),
    }
}

fn arg(args: &[Vec<u8>], i: usize) -> Result<String, ChaincodeError> {
    let a = args
        .get(i)
        .ok_or_else(|| refuse(400, "missing_argument", format!("argument {i}")))?;
    String::from_utf8(a.clone()).map_err(|_| refuse(400, "bad_argument", "not UTF-8"))
}

fn stub_err(e: carechain_chaincode::StubError) -> ChaincodeError {
    refuse(500, "stub", e.to_string())
}

impl Chaincode for KvContract {
    fn invoke(
        &self,
        stub: &mut dyn Stub,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        match function {
            "put" => {
                let (k, v) = (arg(args, 0)?, arg(args, 1)?);
                let old = stub.get_state(&k).map_err(stub_err)?.unwrap_or_default();
                stub.put_state(&k, v.into_bytes()).map_err(stub_err)?;
                stub.set_event("put", k.into_bytes()).map_err(stub_err)?;
                Ok(old)
            }
            "get" => {
                let k = arg(args, 0)?;
                stub.get_state(&k)
                    .map_err(stub_err)?
                    .ok_or_else(|| refuse(404, "not_found", format!("no key {k}")))
            }
            "del" => {
                let k = arg(args, 0)?;
                stub.del_state(&k).map_err(stub_err)?;
                stub.set_event("del", k.into_bytes()).map_err(stub_err)?;
                Ok(Vec::new())
            }
            "incr" => {
                let k = arg(args, 0)?;
                let old = stub.get_state(&k).map_err(stub_err)?;
                let n: u64 = match old {
                    None => 0,
                    Some(v) => String::from_utf8_lossy(&v)
                        .parse()
                        .map_err(|_| refuse(409, "not_a_counter", k.clone()))?,
                };
                let new = (n + 1).to_string().into_bytes();
                stub.put_state(&k, new.clone()).map_err(stub_err)?;
                stub.set_event("incr", new.clone()).map_err(stub_err)?;
                Ok(new)
            }
            "put_then_get" => {
                let (k, v) = (arg(args, 0)?, arg(args, 1)?);
                stub.put_state(&k, v.into_bytes()).map_err(stub_err)?;
                Ok(stub.get_state(&k).map_err(stub_err)?.unwrap_or_default())
            }
            "range" => {
                let (a, b) = (arg(args, 0)?, arg(args, 1)?);
                let mut out = String::new();
                for (k, v) in stub.get_state_by_range(&a, &b).map_err(stub_err)? {
                    out += &format!("{k}={};", String::from_utf8_lossy(&v));
                }
                Ok(out.into_bytes())
            }
            "range_limited" => {
                let (a, b, n) = (arg(args, 0)?, arg(args, 1)?, arg(args, 2)?);
                let n = n
                    .parse()
                    .map_err(|_| refuse(400, "bad_argument", "limit"))?;
                let mut out = String::new();
                for (k, _) in stub
                    .get_state_by_range_limited(&a, &b, n)
                    .map_err(stub_err)?
                {
                    out += &format!("{k};");
                }
                Ok(out.into_bytes())
            }
            "page" => {
                let (a, b, n, bookmark) =
                    (arg(args, 0)?, arg(args, 1)?, arg(args, 2)?, arg(args, 3)?);
                let n = n
                    .parse()
                    .map_err(|_| refuse(400, "bad_argument", "page size"))?;
                let page = stub
                    .get_state_by_range_with_pagination(&a, &b, n, &bookmark)
                    .map_err(stub_err)?;
                let mut out = String::new();
                for (k, _) in page.rows {
                    out += &format!("{k};");
                }
                out += &format!("next={}", page.bookmark);
                Ok(out.into_bytes())
            }
            "put_then_page" => {
                let k = arg(args, 0)?;
                stub.put_state(&k, b"v".to_vec()).map_err(stub_err)?;
                stub.get_state_by_range_with_pagination("", "", 1, "")
                    .map_err(stub_err)?;
                Ok(Vec::new())
            }
            "history" => {
                let k = arg(args, 0)?;
                let mut out = String::new();
                for m in stub.get_history_for_key(&k).map_err(stub_err)? {
                    out += &format!(
                        "{}:{}:{};",
                        m.tx_id,
                        String::from_utf8_lossy(&m.value),
                        m.is_delete
                    );
                }
                Ok(out.into_bytes())
            }
            "refuse" => {
                let k = arg(args, 0)?;
                stub.put_state(&k, b"never".to_vec()).map_err(stub_err)?;
                stub.set_event("refused", Vec::new()).map_err(stub_err)?;
                Err(refuse(409, "conflict", "refused on purpose"))
            }
            "panic" => {
                let k = arg(args, 0)?;
                stub.put_state(&k, b"never".to_vec()).map_err(stub_err)?;
                panic!("test contract panics on purpose");
            }
            "now" => {
                let t = stub.tx_timestamp();
                Ok(format!("{}.{:09} {}", t.seconds, t.nanos, stub.tx_id()).into_bytes())
            }
            other => Err(refuse(404, "unknown_function", other.to_string())),
        }
    }
}

/// The fixed start of test time.
pub const T0: Timestamp = Timestamp {
    seconds: 1_700_000_000,
    nanos: 0,
};

/// Options with a clock that starts at `T0` and advances 1 ms per reading.
pub fn options() -> EmbeddedOptions {
    EmbeddedOptions {
        clock: Arc::new(FixedClock::stepping(T0, 1_000_000)),
        ..EmbeddedOptions::default()
    }
}

/// Opens a ledger in `dir` with the test contract and [`options`].
pub fn open(dir: &Path) -> EmbeddedLedger {
    EmbeddedLedger::open(dir, Arc::new(KvContract), options()).unwrap()
}

/// A proposal with UTF-8 arguments.
pub fn p(function: &str, args: &[&str]) -> Proposal {
    Proposal::new(function, args.iter().map(|a| a.as_bytes().to_vec()))
}
