//! Rate-limit windows counted in this process's memory, for a server that counts alone
//! (the local server): the request's path then writes nothing to the store for them.
//! Lambdas and Workers, many instances at once, count in the store.

use std::collections::HashMap;
use std::sync::Mutex;

/// Past this many keys, windows that have ended are dropped before a new key is added.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct Windows {
    /// Per key: the current window's start and end (unix seconds) and its count.
    counts: Mutex<HashMap<String, Window>>,
}

struct Window {
    start: i64,
    end: i64,
    count: i64,
}

impl Windows {
    /// Counts one event for `key` in the window from `start` to `end` (`now` falls in
    /// it); returns the window's count so far. A later window starts afresh.
    pub fn count(&self, key: String, start: i64, end: i64, now: i64) -> i64 {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts.len() > PRUNE_ABOVE && !counts.contains_key(&key) {
            counts.retain(|_, window| window.end > now);
        }
        let window = counts.entry(key).or_insert(Window { start, end, count: 0 });
        if window.start < start {
            *window = Window { start, end, count: 0 };
        }
        window.count += 1;
        window.count
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.counts.lock().map_or(0, |counts| counts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::{PRUNE_ABOVE, Windows};

    #[test]
    fn counts_per_key_and_window() {
        let windows = Windows::default();
        assert_eq!(windows.count("a".into(), 60, 120, 61), 1);
        assert_eq!(windows.count("a".into(), 60, 120, 62), 2);
        assert_eq!(windows.count("b".into(), 60, 120, 62), 1);
        assert_eq!(windows.count("a".into(), 120, 180, 121), 1, "the next window starts afresh");
        assert_eq!(windows.count("a".into(), 60, 120, 119), 2, "a late caller counts in the current one");
    }

    #[test]
    fn ended_windows_are_dropped_once_there_are_many_keys() {
        let windows = Windows::default();
        for i in 0..=PRUNE_ABOVE {
            windows.count(format!("old-{i}"), 0, 60, 1);
        }
        windows.count("new".into(), 60, 120, 61);
        assert_eq!(windows.keys(), 1);
    }
}
