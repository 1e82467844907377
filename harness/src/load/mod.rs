//! `paybench run`'s load generator.
//!
//! - [`scenario`]: scenario files (WHAT to run), parsed strictly and validated.
//! - [`arrivals`]: when an open loop's calls are intended: one rate, or load in phases.
//! - [`generator`]: the closed-loop and open-loop (coordinated-omission corrected) engines,
//!   generic over [`crate::transport::Transport`].
//! - [`placement`]: pinned, named runtimes for client and server, and the default placement.
//! - [`replay`]: the replay client (`--client replay`): pre-encoded requests on the arm's wire,
//!   like wrk and h2load, for server-capacity figures.
//! - [`runner`]: runs a scenario arm by arm (server, client, preflight call, load points, sweep)
//!   and attaches wire bytes and CPU per call from [`crate::measure`] to each window, producing the
//!   [`crate::results`] types.

pub mod arrivals;
pub mod generator;
pub use paybench_model::operating;
pub mod placement;
pub mod replay;
pub mod runner;
pub use paybench_model::scenario;
pub mod timeline;
