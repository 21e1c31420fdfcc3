//! Spreading independent jobs of one command over the machine's cores, with the results in
//! the order of the inputs.
//!
//! A render does some steps many times over, each independent of the others: decrypting the
//! values of a catalog, sealing one value per pull secret (an RSA operation each), rendering
//! each cluster of `--all-clusters`. [`map`] runs such a step on several threads and hands
//! the results back in input order, however the threads were scheduled and however many there
//! were, so the output bytes and the error reported first never depend on the machine.
//!
//! What this module must *not* do: share mutable state between jobs, reorder or drop a result,
//! read the environment, or start more threads than it is asked for. The thread count is the
//! caller's; [`available`] is what the OS grants this process (`available_parallelism`
//! counts the CPUs of the process's affinity mask and cgroup quota, so a container limited to
//! two CPUs gets two threads).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads the OS lets this process run at once; 1 if it cannot tell.
pub(crate) fn available() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// `job` of every item, in item order, on at most `threads` threads, the calling one
/// included. Items are handed out one at a time from a shared counter, so jobs of uneven cost
/// still spread evenly. With one thread or one item everything runs on the calling thread;
/// a thread the OS refuses to start is done without.
pub(crate) fn map<T, R, F>(items: &[T], threads: NonZeroUsize, job: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.get().min(items.len());
    if threads <= 1 {
        return items.iter().map(job).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, job(item)));
        }
    };
    let mut finished: Vec<(usize, R)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut finished = work();
        for helper in helpers {
            // A job that panicked panics here too, as it would have on one thread.
            match helper.join() {
                Ok(done) => finished.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        finished
    });
    // Every index below `items.len()` was claimed exactly once.
    finished.sort_unstable_by_key(|(i, _)| *i);
    finished.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(threads: usize) -> NonZeroUsize {
        NonZeroUsize::new(threads).unwrap()
    }

    #[test]
    fn results_come_back_in_input_order_whatever_the_thread_count() {
        let items: Vec<u64> = (0..1000).collect();
        // Uneven jobs, so the threads finish out of order.
        let job = |&i: &u64| {
            let spin = (i * 7919) % 200;
            (0..spin).fold(i, |acc, x| acc.wrapping_mul(31).wrapping_add(x)) % 1000 + i * 1000
        };
        let serial: Vec<u64> = items.iter().map(job).collect();
        for threads in [1, 2, 3, 8, 2000] {
            assert_eq!(map(&items, n(threads), job), serial, "{threads} threads");
        }
        assert!(map(&[] as &[u64], n(4), job).is_empty());
    }

    #[test]
    fn more_than_one_thread_does_the_work() {
        let items: Vec<u32> = (0..64).collect();
        let ids = map(&items, n(4), |_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            std::thread::current().id()
        });
        let mut distinct = ids.clone();
        distinct.sort_by_key(|id| format!("{id:?}"));
        distinct.dedup();
        assert!(distinct.len() > 1, "all on one thread: {ids:?}");
    }
}
