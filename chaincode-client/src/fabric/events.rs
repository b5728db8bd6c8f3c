//! The contract's events from the Gateway's `ChaincodeEvents` stream, as one
//! endless [`Ledger::events`](crate::Ledger::events) stream that survives
//! dropped connections and peer restarts.
//!
//! The gateway sends one response per block holding events of the chaincode,
//! in block order. All of a response's events are handed out before the
//! stream is read again, so once a response has been taken the next block to
//! ask for is the one after it: on any transient failure (connection refused
//! or reset, `Unavailable`, the stream ending) the follower waits with
//! backoff and asks again from that block, so nothing is delivered twice or
//! skipped. A permanent refusal (identity not allowed, unknown channel) is
//! yielded once and ends the stream; so does closing or dropping the ledger.

use std::collections::VecDeque;
use std::sync::Arc;

use carechain_fabric_protos::gateway::ChaincodeEventsResponse;
use carechain_fabric_protos::tonic::{Status, Streaming};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;

use super::gateway::{FabricLedger, Inner, backoff, with_deadline};
use super::proposal;
use super::status::to_ledger_error;
use crate::{ChaincodeEvent, LedgerError};

/// Where a follower is.
struct Follower {
    inner: Arc<Inner>,
    shutdown: watch::Receiver<bool>,
    /// The first block not yet received.
    next_block: u64,
    /// The open stream, if any.
    stream: Option<Streaming<ChaincodeEventsResponse>>,
    /// Events received and not yet handed out.
    pending: VecDeque<ChaincodeEvent>,
    /// Consecutive failed attempts (for the backoff).
    failures: u32,
    /// Set after a permanent error was yielded.
    done: bool,
}

/// The events of blocks `>= from_block`, then live ones, until `ledger` closes.
pub(super) fn follow(
    ledger: &FabricLedger,
    from_block: u64,
) -> BoxStream<'static, Result<ChaincodeEvent, LedgerError>> {
    let (inner, shutdown) = ledger.shared();
    let follower = Follower {
        inner,
        shutdown,
        next_block: from_block,
        stream: None,
        pending: VecDeque::new(),
        failures: 0,
        done: false,
    };
    futures::stream::unfold(follower, |mut f| async move {
        let item = f.next().await?;
        Some((item, f))
    })
    .boxed()
}

/// What one step of the follower came to.
enum Step {
    /// Events were received (or none yet); go on.
    Continue,
    /// A transient failure (why); reconnect after backoff.
    Retry(String),
    /// A permanent failure to yield.
    Fail(LedgerError),
    /// The ledger closed.
    Closed,
}

impl Follower {
    /// The next event, a permanent error, or `None` once closed.
    async fn next(&mut self) -> Option<Result<ChaincodeEvent, LedgerError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.done || *self.shutdown.borrow() {
                return None;
            }
            let step = match self.stream.as_mut() {
                None => self.open().await,
                Some(_) => self.receive().await,
            };
            match step {
                Step::Continue => {}
                Step::Closed => return None,
                Step::Fail(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
                Step::Retry(why) => {
                    self.stream = None;
                    self.failures = self.failures.saturating_add(1);
                    let wait = backoff(self.failures);
                    tracing::warn!(
                        next_block = self.next_block,
                        attempt = self.failures,
                        "chaincode event stream dropped ({why}); reconnecting in {wait:?}"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = self.shutdown.changed() => return None,
                    }
                }
            }
        }
    }

    /// Opens the stream from `next_block`.
    async fn open(&mut self) -> Step {
        let config = &self.inner.config;
        let request = proposal::chaincode_events(
            &self.inner.identity,
            &config.channel,
            &config.chaincode,
            self.next_block,
        );
        let mut client = self.inner.client.clone();
        // The deadline bounds only the opening; the stream itself stays open.
        let opening = client.chaincode_events(with_deadline(request, config.deadlines.connect));
        let opened = tokio::select! {
            opened = tokio::time::timeout(config.deadlines.connect, opening) => opened,
            _ = self.shutdown.changed() => return Step::Closed,
        };
        match opened {
            Ok(Ok(response)) => {
                if self.failures > 0 {
                    tracing::info!(
                        next_block = self.next_block,
                        attempts = self.failures,
                        "chaincode event stream resumed"
                    );
                }
                self.stream = Some(response.into_inner());
                Step::Continue
            }
            Ok(Err(status)) => self.failed(status),
            Err(_) => Step::Retry(format!(
                "no answer to the opening within {:?}",
                config.deadlines.connect
            )),
        }
    }

    /// Takes the next block's events from the open stream.
    async fn receive(&mut self) -> Step {
        let Some(stream) = self.stream.as_mut() else {
            return Step::Retry("no open stream".into());
        };
        let message = tokio::select! {
            message = stream.message() => message,
            _ = self.shutdown.changed() => return Step::Closed,
        };
        match message {
            Ok(Some(response)) => {
                self.failures = 0;
                let block = response.block_number;
                self.next_block = self.next_block.max(block.saturating_add(1));
                self.pending
                    .extend(response.events.into_iter().map(|e| ChaincodeEvent {
                        block,
                        tx_id: e.tx_id,
                        name: e.event_name,
                        payload: e.payload,
                    }));
                Step::Continue
            }
            Ok(None) => Step::Retry("the gateway ended the stream".into()),
            Err(status) => self.failed(status),
        }
    }

    /// Retry on anything a reconnect may cure; fail on a refusal.
    fn failed(&self, status: Status) -> Step {
        use carechain_fabric_protos::tonic::Code;
        match status.code() {
            Code::InvalidArgument
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::NotFound
            | Code::FailedPrecondition => {
                Step::Fail(to_ledger_error("ChaincodeEvents", None, &status))
            }
            code => Step::Retry(format!("{code:?}: {}", status.message())),
        }
    }
}
