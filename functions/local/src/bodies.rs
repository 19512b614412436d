//! Room for request bodies held in memory. A body is read before its sender is known,
//! so the server bounds what all bodies at once may take (`CONFAB_MAX_BODIES_IN_MEMORY_BYTES`),
//! what one client may take of it (a quarter: a client sending slowly cannot hold all
//! of it), and how long a body may take to arrive ([`deadline`]). A body that does not
//! fit is not read, and is answered 503; one that comes too slowly is answered 408.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a body of at most `bytes` may take to arrive: 10 s, and a second for each
/// 32 KiB (a 5 MB upload gets 2 min 50 s: a slow uplink's pace).
pub fn deadline(bytes: usize) -> Duration {
    Duration::from_secs(10 + (bytes / (32 * 1024)) as u64)
}

pub struct Bodies {
    /// In KiB.
    room: Semaphore,
    total_kib: usize,
    /// KiB held per client (`client_key`: an IPv4 address or an IPv6 /64).
    held: Mutex<HashMap<String, usize>>,
}

/// A body's room, given back when dropped.
pub struct Held<'a> {
    bodies: &'a Bodies,
    client: String,
    kib: usize,
    _permit: SemaphorePermit<'a>,
}

impl Bodies {
    pub fn new(total_bytes: usize) -> Bodies {
        let total_kib = total_bytes.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Bodies { room: Semaphore::new(total_kib), total_kib, held: Mutex::default() }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Room for a body of at most `bytes` from `client`, if both all clients' room and
    /// this client's share have it. A body larger than the share takes the whole share.
    pub fn take(&self, client: String, bytes: usize) -> Option<Held<'_>> {
        let share = (self.total_kib / 4).max(1);
        let kib = bytes.div_ceil(1024).min(share);
        let mut held = self.held();
        let mine = held.get(&client).copied().unwrap_or(0);
        if mine + kib > share {
            return None;
        }
        let permit = self.room.try_acquire_many(u32::try_from(kib).ok()?).ok()?;
        held.insert(client.clone(), mine + kib);
        Some(Held { bodies: self, client, kib, _permit: permit })
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut held = self.bodies.held();
        if let Some(mine) = held.get_mut(&self.client) {
            *mine -= self.kib.min(*mine);
            if *mine == 0 {
                held.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bodies;

    #[test]
    fn all_clients_and_each_client_have_their_room() {
        let bodies = Bodies::new(400 * 1024);
        let a = bodies.take("a".into(), 100 * 1024).expect("a's share");
        assert!(bodies.take("a".into(), 1).is_none(), "a's share is full");
        let b = bodies.take("b".into(), 5_000_000).expect("larger than a share: the whole share");
        let c = bodies.take("c".into(), 100 * 1024).unwrap();
        let d = bodies.take("d".into(), 100 * 1024).unwrap();
        assert!(bodies.take("e".into(), 1).is_none(), "all the room is held");
        drop(a);
        assert!(bodies.take("e".into(), 1).is_some(), "room given back");
        assert!(bodies.take("a".into(), 0).is_some(), "a body with nothing in it always fits");
        drop((b, c, d));
        assert!(bodies.held().is_empty(), "nobody holds anything");
    }
}
