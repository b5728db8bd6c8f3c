//! The ledger backend (feature `ledger`): the contract behind any
//! `Arc<dyn Ledger>` — the embedded ledger, or (feature `fabric`) the Fabric
//! test peer's Gateway. On the embedded ledger every transaction and query
//! can be checked against the in-memory reference (`MemoryState`), fed the
//! ids and timestamps the ledger assigned.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use carechain_chaincode::memory::MemoryState;
use carechain_chaincode::{CareChain, Chaincode, ChaincodeError, Timestamp};
use carechain_ledger::{
    Clock, Committed, EmbeddedLedger, EmbeddedOptions, Ledger, LedgerError, Proposal,
};

use crate::driver::{Contract, FixedClock, Outcome};
use crate::{T0, World};

/// A clock the test sets; reads whole seconds.
#[derive(Debug)]
pub struct SettableClock(pub AtomicI64);

impl SettableClock {
    /// A clock reading `seconds`.
    pub fn at(seconds: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(seconds)))
    }

    /// Moves the clock on by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock for SettableClock {
    fn now(&self) -> Timestamp {
        Timestamp {
            seconds: self.0.load(Ordering::Relaxed),
            nanos: 0,
        }
    }
}

/// The contract behind a ledger.
pub struct LedgerDriver {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// The embedded ledger behind `ledger`, for the reference checks.
    pub embedded: Option<Arc<EmbeddedLedger>>,
    /// The runtime the ledger's futures run on.
    pub rt: tokio::runtime::Handle,
    /// The clock stamping the ledger's transactions.
    pub clock: Arc<dyn Clock>,
    /// The same clock when the test can set it.
    pub settable: Option<Arc<SettableClock>>,
    /// When set, every transaction and query is checked against it.
    pub reference: Option<MemoryState>,
}

fn refusal(function: &str, err: LedgerError) -> ChaincodeError {
    match err {
        LedgerError::Refused {
            status,
            code,
            message,
        } => ChaincodeError {
            status,
            code,
            message,
        },
        e => panic!("{function}: {e}"),
    }
}

impl LedgerDriver {
    /// Any `ledger` whose transactions are stamped by `clock` (no reference checks).
    pub fn on(ledger: Arc<dyn Ledger>, rt: tokio::runtime::Handle, clock: Arc<dyn Clock>) -> Self {
        Self {
            ledger,
            embedded: None,
            rt,
            clock,
            settable: None,
            reference: None,
        }
    }

    /// The embedded `ledger` stamped by `clock`, checked against `reference` if any.
    pub fn embedded(
        ledger: Arc<EmbeddedLedger>,
        rt: tokio::runtime::Handle,
        clock: Arc<SettableClock>,
        reference: Option<MemoryState>,
    ) -> Self {
        Self {
            ledger: ledger.clone(),
            embedded: Some(ledger),
            rt,
            clock: clock.clone(),
            settable: Some(clock),
            reference,
        }
    }
}

impl Contract for LedgerDriver {
    /// Submits transaction `function` with raw `args`; checks it against the
    /// reference if there is one.
    fn invoke(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome {
        let proposal = Proposal::new(function, args.to_vec());
        let got = self.rt.block_on(self.ledger.submit(proposal));
        match got {
            Ok(c) => {
                if let (Some(reference), Some(embedded)) = (&mut self.reference, &self.embedded) {
                    let call = (&CareChain as &dyn Chaincode, function, args);
                    assert_committed_as_reference(embedded, reference, &c, call, function);
                }
                Ok(serde_json::from_slice(&c.payload).expect("result JSON"))
            }
            Err(err) => {
                let err = refusal(function, err);
                if let Some(reference) = &mut self.reference {
                    let now = self.clock.now();
                    let want = reference.execute(&CareChain, "refused", now, function, args);
                    let want = want.expect_err("the reference refuses too");
                    assert_eq!(
                        (want.status, &want.code),
                        (err.status, &err.code),
                        "{err:?}"
                    );
                }
                Err(err)
            }
        }
    }

    /// Evaluates query `function` with raw `args`; checks it against the
    /// reference if there is one.
    fn raw_query(&mut self, function: &str, args: &[Vec<u8>]) -> Outcome {
        let proposal = Proposal::new(function, args.to_vec());
        let got = self.rt.block_on(self.ledger.evaluate(proposal));
        let got = got.map_err(|e| refusal(function, e));
        if let Some(reference) = &mut self.reference {
            let want = reference.query(&CareChain, self.clock.now(), function, args);
            assert_eq!(got, want, "query {function}");
        }
        got.map(|bytes| serde_json::from_slice(&bytes).expect("query JSON"))
    }

    fn clock(&self) -> i64 {
        self.clock.now().seconds
    }

    fn set_clock(&mut self, seconds: i64) -> Result<(), FixedClock> {
        match &self.settable {
            Some(clock) => {
                clock.0.store(seconds, Ordering::Relaxed);
                Ok(())
            }
            None => Err(FixedClock {
                backend: "ledger",
                wanted: seconds,
            }),
        }
    }
}

/// Asserts that `committed` (of `function` with `args` on `chaincode`) has
/// the payload and event the reference gives when run with the ledger's tx
/// id and timestamp, and applies it to the reference; `context` names the
/// call in a failure.
pub fn assert_committed_as_reference(
    embedded: &EmbeddedLedger,
    reference: &mut MemoryState,
    committed: &Committed,
    (chaincode, function, args): (&dyn Chaincode, &str, &[Vec<u8>]),
    context: &str,
) {
    let block = embedded
        .block(committed.block)
        .expect("the committed block");
    let tx = block
        .transactions
        .iter()
        .find(|t| t.tx_id == committed.tx_id)
        .expect("the transaction in its block");
    let want = reference
        .execute(chaincode, &tx.tx_id, tx.timestamp, function, args)
        .unwrap_or_else(|e| panic!("reference refused {context}: {e:?}"));
    assert_eq!(committed.payload, want.payload, "payload of {context}");
    assert_eq!(tx.event, want.event, "event of {context}");
}

/// A runtime for the ledger's futures: two workers, I/O and timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// An embedded ledger in a temporary folder, on a settable clock at `T0`.
pub struct Embedded {
    /// The folder holding the ledger's files (removed on drop).
    pub dir: tempfile::TempDir,
    /// The clock stamping its transactions.
    pub clock: Arc<SettableClock>,
    /// The ledger.
    pub ledger: Arc<EmbeddedLedger>,
}

impl Embedded {
    /// Opens a fresh embedded ledger of the contract with `options` (its clock replaced).
    pub fn open(options: EmbeddedOptions) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let clock = SettableClock::at(T0);
        let options = EmbeddedOptions {
            clock: clock.clone(),
            ..options
        };
        let ledger = EmbeddedLedger::open(dir.path(), Arc::new(CareChain), options)
            .expect("the embedded ledger opens");
        Self {
            dir,
            clock,
            ledger: Arc::new(ledger),
        }
    }

    /// A driver of this ledger on `rt`, checked against a fresh reference when `checked`.
    pub fn driver(&self, rt: &tokio::runtime::Runtime, checked: bool) -> LedgerDriver {
        LedgerDriver::embedded(
            self.ledger.clone(),
            rt.handle().clone(),
            self.clock.clone(),
            checked.then(MemoryState::new),
        )
    }

    /// A world on this ledger under storage `rules`, checked against a fresh reference.
    pub fn world(&self, rt: &tokio::runtime::Runtime, rules: Option<u32>) -> World<LedgerDriver> {
        World::with_rules(self.driver(rt, true), rules)
    }
}
