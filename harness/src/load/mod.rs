//! `paybench run`'s load generator.
//!
//! - [`scenario`]: scenario files (WHAT to run), parsed strictly and validated.
//! - [`generator`]: the closed-loop and open-loop (coordinated-omission corrected) engines,
//!   generic over [`crate::transport::Transport`].
//! - [`runner`]: runs a scenario arm by arm (server, client, preflight call, load points, sweep)
//!   and attaches wire bytes and CPU per call from [`crate::measure`] to each window, producing the
//!   [`crate::results`] types.

pub mod generator;
pub mod runner;
pub mod scenario;
