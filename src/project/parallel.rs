//! Work on a project's objects side by side, at most `COMPOSE_PARALLEL_LIMIT` at a time
//! (docker compose's variable; unset or 0: no limit).

/// How many calls may run at once: `COMPOSE_PARALLEL_LIMIT`, else unlimited.
pub fn limit() -> usize {
    std::env::var("COMPOSE_PARALLEL_LIMIT").ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|n| *n > 0).unwrap_or(usize::MAX)
}

/// `f` over `items` on threads, at most [`limit`] at a time; results in the items' order
/// (`Err` for a call that panicked).
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<std::thread::Result<R>> {
    map_limited(items, limit(), f)
}

fn map_limited<T: Sync, R: Send>(items: &[T], limit: usize, f: impl Fn(&T) -> R + Sync) -> Vec<std::thread::Result<R>> {
    let f = &f;
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(limit.max(1)) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk.iter().map(|item| scope.spawn(move || f(item))).collect();
            out.extend(handles.into_iter().map(|h| h.join()));
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn at_most_the_limit_run_at_once_and_results_keep_their_order() {
        let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let items: Vec<u32> = (0..7).collect();
        let out = map_limited(&items, 2, |n| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
            n * 10
        });
        assert_eq!(out.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 10, 20, 30, 40, 50, 60]);
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
