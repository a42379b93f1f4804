//! A min-heap of deadlines with lazy deletion: entries may be stale (the owner moved its
//! deadline or is gone); owners re-check their own deadlines when woken, so a stale entry only
//! costs a spurious wake-up, which every `handle_timeout` here tolerates.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct TimerHeap<K: Ord + Copy> {
    heap: BinaryHeap<Reverse<(Instant, K)>>,
}

impl<K: Ord + Copy> Default for TimerHeap<K> {
    fn default() -> Self {
        TimerHeap {
            heap: BinaryHeap::new(),
        }
    }
}

impl<K: Ord + Copy> TimerHeap<K> {
    pub(crate) fn schedule(&mut self, at: Instant, key: K) {
        self.heap.push(Reverse((at, key)));
    }

    /// Earliest entry (possibly stale).
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Remove and return every key due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        while let Some(Reverse((at, k))) = self.heap.peek() {
            if *at > now {
                break;
            }
            out.push(*k);
            self.heap.pop();
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
