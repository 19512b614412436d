//! Work a Worker still has to finish when its handler returns: background tasks (a chat
//! reply's producer, usage records) and streamed response bodies. The runtime may stop
//! an isolate once its responses are sent, so each request hands [`InFlight::idle`] to
//! `waitUntil`: the isolate then stays until nothing is in flight (within the
//! platform's grace period). The count is the isolate's, not the request's, so one
//! request's `waitUntil` may also wait for another's work; that only keeps the isolate
//! longer, up to the same limit.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// A count of unfinished work, shared by everything on one isolate.
#[derive(Debug, Default)]
pub struct InFlight {
    count: Cell<usize>,
    waiting: RefCell<Vec<Waker>>,
}

/// One unit of work in flight; dropping it marks the work done.
#[derive(Debug)]
pub struct Guard(Rc<InFlight>);

impl InFlight {
    pub fn enter(self: &Rc<Self>) -> Guard {
        self.count.set(self.count.get() + 1);
        Guard(self.clone())
    }

    pub fn count(&self) -> usize {
        self.count.get()
    }

    /// Resolves once nothing is in flight, including work started while it waits.
    pub fn idle(self: Rc<Self>) -> impl Future<Output = ()> {
        poll_fn(move |cx| {
            if self.count.get() == 0 {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let left = self.0.count.get() - 1;
        self.0.count.set(left);
        if left == 0 {
            let waiting = std::mem::take(&mut *self.0.waiting.borrow_mut());
            waiting.into_iter().for_each(Waker::wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn idle_when_nothing_was_started() {
        let in_flight = Rc::new(InFlight::default());
        assert!(in_flight.idle().now_or_never().is_some());
    }

    #[test]
    fn idle_waits_for_every_guard_even_later_ones() {
        let in_flight = Rc::new(InFlight::default());
        let first = in_flight.enter();
        let mut idle = Box::pin(in_flight.clone().idle());
        assert!(idle.as_mut().now_or_never().is_none());
        let second = in_flight.enter();
        drop(first);
        assert!(idle.as_mut().now_or_never().is_none(), "the second is still running");
        drop(second);
        assert_eq!(in_flight.count(), 0);
        assert!(idle.now_or_never().is_some());
    }

    #[test]
    fn the_last_guard_wakes_the_waiting() {
        let in_flight = Rc::new(InFlight::default());
        let guard = in_flight.enter();
        let (tx, rx) = futures::channel::oneshot::channel();
        let mut waiter = Box::pin(in_flight.clone().idle().map(move |()| tx.send(())));
        let mut pool = futures::executor::LocalPool::new();
        let spawner = pool.spawner();
        futures::task::LocalSpawnExt::spawn_local(&spawner, async move {
            let _ = (&mut waiter).await;
        })
        .unwrap();
        pool.run_until_stalled();
        drop(guard);
        pool.run_until_stalled();
        assert!(rx.now_or_never().is_some());
    }
}
