//! What a window's CPU use was, by role, as `results.json` records it. The `paybench` crate's
//! `measure::busy` measures it (thread times from /proc) and decides the bottleneck.

use serde::{Deserialize, Serialize};

/// A share of at least this much means saturated: 90 %, leaving room for the sampling edges of a
/// sub-second window.
pub const SATURATED_SHARE: f64 = 0.9;

/// A window with more foreign CPU than this, in cores, is contaminated: 0.1 core is five times the
/// tick resolution of `/proc/stat` over a one-second window on two CPUs (0.02 core), and well
/// below the 1.0-1.8 cores a neighbouring build takes.
pub const FOREIGN_CORES_LIMIT: f64 = 0.1;

/// Busy shares of one window's send phase, by role (`None`: the role is not visible here, such as
/// a remote broker).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusyShares {
    /// Load generator and client library threads (`pb-client*`, the open-loop pacer included).
    pub client: f64,
    /// The in-process server (`pb-server*`) or the `--server-pid` process.
    pub server: Option<f64>,
    /// The broker process.
    pub broker: Option<f64>,
    /// The whole machine (`/proc/stat`).
    pub machine: f64,
    /// Share of the machine's CPU time stolen by a hypervisor.
    pub steal: f64,
    /// The 1-minute load average when the window opened (`/proc/loadavg`): how busy the machine
    /// already was, whatever this suite was doing.
    #[serde(default)]
    pub load_average_1m: Option<f64>,
    /// Cores busy with work the suite does not know (see the module docs); `null` in runs made
    /// before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_cores: Option<f64>,
    /// What limited the window (`measure::busy::bottleneck` in the `paybench` crate): `client`, `server`, `broker`, `machine` or `none`.
    pub bottleneck: String,
}

impl BusyShares {
    /// Whether something the suite does not know used more than [`FOREIGN_CORES_LIMIT`] cores.
    pub fn contaminated(&self) -> bool {
        self.foreign_cores.is_some_and(|cores| cores > FOREIGN_CORES_LIMIT)
    }
}
