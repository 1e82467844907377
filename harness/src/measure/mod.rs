//! Measurements taken from outside the load generator: bytes on the wire per socket from the
//! kernel ([`wire`]), CPU time per thread and per process from /proc ([`cpu`]), busy shares and
//! the bottleneck rule ([`busy`]), encode/decode time per body ([`codec`], timed in-process), and the
//! environment a result was produced in ([`env`]), and a broker's backlog through a timeline
//! ([`backlog`]). All are snapshots: the load runner takes one at
//! the start and one at the end of a measured window and divides the difference by the calls.

pub mod backlog;
pub mod busy;
pub use paybench_model::codec_timing as codec;
pub mod cpu;
pub mod env;
pub mod wire;
