//! A small deterministic generator (splitmix64) for the tests that draw
//! configs or timings: the same seed gives the same sequence on every
//! machine, so a printed seed replays a failure.

use std::time::Duration;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// A delay of 0 to `max_us` microseconds.
    pub fn delay(&mut self, max_us: u64) -> Duration {
        Duration::from_micros(self.next() % (max_us + 1))
    }

    pub fn pick<'a, X>(&mut self, xs: &'a [X]) -> &'a X {
        &xs[self.below(xs.len() as u64) as usize]
    }

    pub fn subset<X: Clone>(&mut self, xs: &[X], percent: u64) -> Vec<X> {
        xs.iter()
            .filter(|_| self.chance(percent))
            .cloned()
            .collect()
    }
}
