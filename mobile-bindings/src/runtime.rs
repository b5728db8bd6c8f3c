//! The tokio runtime the library owns: foreign callers await futures that
//! resolve when the work spawned here completes, so the app's executor
//! (Kotlin coroutines, Swift tasks, Python asyncio) never needs tokio.

use std::future::Future;
use std::sync::OnceLock;

use crate::error::MobileError;

/// The library's runtime: two worker threads are plenty for one phone.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("carechain-mobile")
            .enable_all()
            .build()
            .expect("the OS refused to start the library's runtime threads")
    })
}

/// Runs `future` on the library's runtime and awaits it from any executor.
pub(crate) async fn spawn<T, F>(future: F) -> Result<T, MobileError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, MobileError>> + Send + 'static,
{
    joined(runtime().spawn(future).await, "task")
}

/// Runs CPU-heavy `work` (key generation, argon2, proofs) on the runtime's
/// blocking pool, off the caller's thread and off the I/O workers.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, MobileError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, MobileError> + Send + 'static,
{
    joined(runtime().spawn_blocking(work).await, "computation")
}

/// The result of a joined background `what`, or why it did not finish.
fn joined<T>(
    outcome: Result<Result<T, MobileError>, tokio::task::JoinError>,
    what: &str,
) -> Result<T, MobileError> {
    outcome.map_err(|e| MobileError::Internal {
        reason: format!("a background {what} failed: {e}"),
    })?
}

/// Spawns a long-lived task (the event socket) and returns its handle.
pub(crate) fn spawn_detached<F>(future: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime().spawn(future)
}
