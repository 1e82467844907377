//! Samples an arm's broker backlog ([`crate::transport::arm::Backlog`]) through a window, every
//! 100 ms on a thread of its own, so the reads never wait on the client's or the server's
//! threads. A failed read ends the sampling with its error, which the results keep; or, given a
//! way to reopen the reader (an experiment that restarts the broker), the sampling reopens it at
//! each later tick until a read succeeds, and the buckets between hold no reading.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::transport::arm::Backlog;

/// How often the backlog is read: the timeline's bucket width.
pub const EVERY: Duration = crate::load::timeline::BUCKET;

/// What a sampling read.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    /// What was read (the reader's description).
    pub source: String,
    /// (when read, backlog), in order.
    pub readings: Vec<(Instant, u64)>,
    /// The error that ended the sampling early, if one did; with a reopening sampler, the first
    /// failed read and how many reads failed in all.
    pub error: Option<String>,
}

/// Opens the reader again after a failed read (a new connection to a restarted broker).
pub type Reopen = Box<dyn FnMut() -> crate::Result<Box<dyn Backlog>> + Send>;

/// A running sampling; [`Sampler::finish`] stops it and hands its readings over.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Readings>,
}

impl Sampler {
    /// Reads `reader` every `every` from now until [`Sampler::finish`]; after a failed read,
    /// `reopen` (if given) opens a new reader at each later tick until one reads.
    pub fn start(reader: Box<dyn Backlog>, every: Duration, mut reopen: Option<Reopen>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("pb-backlog".into()).spawn(move || {
            let mut out = Readings { source: reader.describe(), ..Readings::default() };
            let (mut reader, mut first_error, mut failed) = (Some(reader), None::<String>, 0u64);
            let mut next = Instant::now();
            while !stopped.load(Ordering::Acquire) {
                let read = match reader.as_mut() {
                    Some(r) => r.read(),
                    None => reopen.as_mut().map_or_else(
                        || Err(crate::Error::Internal("no reader".to_owned())),
                        |open| open().and_then(|r| reader.insert(r).read()),
                    ),
                };
                match read {
                    Ok(backlog) => out.readings.push((Instant::now(), backlog)),
                    Err(e) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                        reader = None;
                        if reopen.is_none() {
                            break;
                        }
                    }
                }
                next += every;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            out.error = first_error.map(|e| match reopen {
                Some(_) => format!("{failed} read(s) failed, the reader reopened after each; the first: {e}"),
                None => e,
            });
            out
        })?;
        Ok(Self { stop, thread })
    }

    /// Stops the sampling (within one read, at most `backlog::READ_WITHIN`) and returns what it read.
    pub fn finish(self) -> Readings {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_else(|_| Readings {
            error: Some("the backlog sampler panicked".to_owned()),
            ..Readings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backlog that grows by one per read, then fails at its fifth.
    struct Counting(u64);

    impl Backlog for Counting {
        fn read(&mut self) -> crate::Result<u64> {
            self.0 += 1;
            if self.0 == 5 {
                return Err(crate::Error::Config("broker gone".to_owned()));
            }
            Ok(self.0)
        }
        fn describe(&self) -> String {
            "counting".to_owned()
        }
    }

    #[test]
    fn readings_come_in_order_until_a_read_fails_and_the_error_is_kept() {
        let sampler = Sampler::start(Box::new(Counting(0)), Duration::from_millis(1), None).unwrap();
        // Bounded: the fifth read fails and ends the thread; finish joins it.
        let mut waited = 0;
        while !sampler.thread.is_finished() && waited < 2000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        let r = sampler.finish();
        assert_eq!(r.source, "counting");
        assert_eq!(r.readings.iter().map(|r| r.1).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(r.readings.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(r.error.as_deref().is_some_and(|e| e.ends_with("broker gone")), "{:?}", r.error);
    }

    #[test]
    fn a_reopening_sampler_reads_on_after_a_failed_read() {
        // The first reader fails at its fifth read; the reopened one starts at 100.
        let reopen: Reopen = Box::new(|| Ok(Box::new(Counting(99)) as Box<dyn Backlog>));
        let sampler = Sampler::start(Box::new(Counting(0)), Duration::from_millis(1), Some(reopen)).unwrap();
        // Ticks of 1 ms: well past the failure (a slow machine reads fewer, and the test waits
        // for at least six readings, bounded).
        let mut waited = 0;
        while waited < 2000 && !sampler.thread.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
            waited += 10;
            if waited >= 50 {
                break;
            }
        }
        let r = sampler.finish();
        let values: Vec<u64> = r.readings.iter().map(|r| r.1).collect();
        assert_eq!(values[..6], [1, 2, 3, 4, 100, 101], "{values:?}");
        assert!(
            r.error.as_deref().is_some_and(|e| e.starts_with("1 read(s) failed") && e.ends_with("broker gone")),
            "{:?}",
            r.error
        );
    }
}
