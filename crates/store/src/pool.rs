//! A connection pool: idle connections kept for reuse, new ones opened on demand, and — for
//! PostgreSQL, whose server allows a fixed number of connections for every client together — a
//! hard cap on the connections open at once, in use or idle. A caller finding every connection
//! in use waits a bounded time for one to come back, then gets an error that says so.
//!
//! Written here rather than taken from a crate (r2d2): it is one mutex and one condition
//! variable, and the store needs its two PostgreSQL pools (queries and large reads) to report
//! their figures to `/metrics`.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::StoreError;

type Opener<C> = Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>;
/// Whether a connection idle for the given time can still be used.
type Checker<C> = Box<dyn Fn(&mut C, Duration) -> bool + Send + Sync>;

/// The most connections open at once, how long a caller waits when all are in use, and the
/// error it then gets (naming the setting to change).
pub(crate) struct Limit {
    pub(crate) max: usize,
    pub(crate) wait: Duration,
    pub(crate) exhausted: String,
}

struct State<C> {
    /// Connections not in use, each with when it was returned; the newest last.
    idle: Vec<(C, Instant)>,
    /// Connections open: idle, in use, or being opened.
    open: usize,
}

pub(crate) struct Pool<C> {
    state: Mutex<State<C>>,
    /// Signalled whenever a connection is returned or closed.
    freed: Condvar,
    open: Opener<C>,
    check: Option<Checker<C>>,
    max_idle: usize,
    limit: Option<Limit>,
}

/// A pool's figures at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Figures {
    pub(crate) in_use: usize,
    pub(crate) idle: usize,
}

impl<C> Pool<C> {
    /// A pool keeping up to `max_idle` idle connections, with no cap on those open.
    pub(crate) fn new(max_idle: usize, open: Opener<C>) -> Pool<C> {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            open,
            check: None,
            max_idle,
            limit: None,
        }
    }

    /// A pool of at most `limit.max` open connections, all kept when idle; each is checked
    /// with `check` before it is handed out again.
    pub(crate) fn capped(limit: Limit, open: Opener<C>, check: Checker<C>) -> Pool<C> {
        let mut pool = Pool::new(limit.max, open);
        pool.check = Some(check);
        pool.limit = Some(limit);
        pool
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One connection closed (dropped by the caller, outside the lock).
    fn closed(&self) {
        self.lock().open -= 1;
        self.freed.notify_one();
    }

    pub(crate) fn get(&self) -> Result<Pooled<'_, C>, StoreError> {
        let deadline = self.limit.as_ref().map(|l| Instant::now() + l.wait);
        let mut state = self.lock();
        loop {
            if let Some((mut conn, since)) = state.idle.pop() {
                drop(state);
                let usable = self
                    .check
                    .as_ref()
                    .is_none_or(|check| check(&mut conn, since.elapsed()));
                if usable {
                    return Ok(self.lend(conn));
                }
                // Broken (the server restarted, a firewall dropped it): closed, and another
                // taken or opened in its place.
                drop(conn);
                self.closed();
                state = self.lock();
                continue;
            }
            let room = self.limit.as_ref().is_none_or(|l| state.open < l.max);
            if room {
                state.open += 1;
                drop(state);
                return match (self.open)() {
                    Ok(conn) => Ok(self.lend(conn)),
                    Err(e) => {
                        self.closed();
                        Err(e)
                    }
                };
            }
            // Every connection is in use: wait for one to come back, up to the limit's time.
            let (Some(limit), Some(deadline)) = (&self.limit, deadline) else {
                unreachable!("only a capped pool runs out of room")
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Database(limit.exhausted.clone()));
            }
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn lend(&self, conn: C) -> Pooled<'_, C> {
        Pooled {
            pool: self,
            conn: Some(conn),
        }
    }

    /// Connections in use and idle now.
    pub(crate) fn figures(&self) -> Figures {
        let state = self.lock();
        Figures {
            in_use: state.open - state.idle.len(),
            idle: state.idle.len(),
        }
    }
}

/// A connection borrowed from the pool; returned when dropped.
pub(crate) struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
}

impl<C> Pooled<'_, C> {
    /// Closes the connection instead of returning it (after an error that may have broken it).
    pub(crate) fn discard(mut self) {
        if let Some(c) = self.conn.take() {
            drop(c);
            self.pool.closed();
        }
    }
}

impl<C> Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl<C> DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        let Some(c) = self.conn.take() else { return };
        let mut state = self.pool.lock();
        if state.idle.len() < self.pool.max_idle {
            state.idle.push((c, Instant::now()));
            drop(state);
            self.pool.freed.notify_one();
        } else {
            drop(state);
            // Closing may wait on the server: outside the lock.
            drop(c);
            self.pool.closed();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn capped(max: usize, wait_ms: u64, opened: Arc<AtomicUsize>) -> Pool<usize> {
        Pool::capped(
            Limit {
                max,
                wait: Duration::from_millis(wait_ms),
                exhausted: format!("all {max} in use"),
            },
            Box::new(move || Ok(opened.fetch_add(1, Ordering::SeqCst))),
            // Connection 0 is "broken" once it has been idle.
            Box::new(|c, _| *c != 0),
        )
    }

    #[test]
    fn the_cap_holds_and_a_waiter_gets_the_returned_connection() {
        let opened = Arc::new(AtomicUsize::new(0));
        let pool = capped(2, 2_000, opened.clone());
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert_eq!(pool.figures(), Figures { in_use: 2, idle: 0 });
        std::thread::scope(|s| {
            let waiter = s.spawn(|| *pool.get().unwrap());
            std::thread::sleep(Duration::from_millis(100));
            drop(b);
            assert_eq!(waiter.join().unwrap(), 1);
        });
        assert_eq!(
            opened.load(Ordering::SeqCst),
            2,
            "nothing opened past the cap"
        );
        assert_eq!(pool.figures(), Figures { in_use: 1, idle: 1 });
        drop(a);
        // Connection 0, the newest returned, fails its check: closed, and 1 lent instead.
        let c = pool.get().unwrap();
        assert_eq!(*c, 1);
        assert_eq!(pool.figures(), Figures { in_use: 1, idle: 0 });
        // Its place is free for a new one.
        assert_eq!(*pool.get().unwrap(), 2);
    }

    #[test]
    fn an_exhausted_pool_says_so_after_its_wait() {
        let pool = capped(1, 50, Arc::new(AtomicUsize::new(5)));
        let _held = pool.get().unwrap();
        let started = Instant::now();
        let e = pool.get().err().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(e.to_string(), "database error: all 1 in use");
    }

    #[test]
    fn a_discarded_connection_frees_its_place() {
        let pool = capped(1, 50, Arc::new(AtomicUsize::new(5)));
        pool.get().unwrap().discard();
        assert_eq!(pool.figures(), Figures::default());
        assert_eq!(*pool.get().unwrap(), 6);
    }
}
