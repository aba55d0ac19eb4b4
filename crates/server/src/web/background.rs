//! Work nobody waits for (the scheduler's jobs, a kept part built ahead of its first page) run
//! at the lowest scheduling priority, so that a page or API request asked meanwhile has the
//! processor first: a job caught up as the server starts shared the two cores with the first
//! renewal plan asked for and made it take more than twice as long.

use cardwatch_store::{Store, StoreError};

use crate::web::Failure;
use crate::AppState;

/// How soon a piece of work is wanted, and so where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    /// Someone waits for it (a request, a job run by hand): tokio's shared blocking threads,
    /// at the default priority.
    Asked,
    /// Nobody waits for it (a scheduled job): a thread of its own at the lowest priority.
    Background,
}

/// Lowers the calling thread's scheduling priority to the least (nice 19): threads at the
/// default run before it whenever both are ready, and the threads it starts inherit it. Only a
/// thread of its own is lowered (on Linux a thread's id names that one thread): an unprivileged
/// thread cannot raise its priority again, so a pooled thread would carry it into later
/// requests. Elsewhere the work runs at the default priority.
pub(crate) fn lowest_priority(what: &str) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        tracing::debug!(error = %e, "{what} runs at the default priority");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = what;
}

/// Runs `f` off the async threads, at `priority`, in the caller's span (its log lines belong
/// to the job or request that asked).
pub(crate) async fn compute<T: Send + 'static>(
    priority: Priority,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    let span = tracing::Span::current();
    let failed =
        |e: &dyn std::fmt::Display| Failure(StoreError::Database(format!("worker failed: {e}")));
    match priority {
        Priority::Asked => tokio::task::spawn_blocking(move || span.in_scope(f))
            .await
            .map_err(|e| failed(&e)),
        Priority::Background => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("cw-background".into())
                .spawn(move || {
                    lowest_priority("background work");
                    let _ = tx.send(span.in_scope(f));
                })
                .map_err(|e| failed(&e))?;
            // A panic drops the sender unanswered.
            rx.await.map_err(|_| failed(&"it panicked"))
        }
    }
}

/// A store call off the async threads, at `priority`: [`crate::web::blocking`] when someone
/// waits for it.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    priority: Priority,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failure> {
    let store = state.store.clone();
    compute(priority, move || f(&*store))
        .await?
        .map_err(Failure)
}
