//! CSV export of a run: one row per measured window (load-point repetitions and sweep steps), for
//! spreadsheets. `results.json` stays the source of truth (it also holds the histograms).

use std::fmt::Write;

use crate::results::{ArmResult, Measurement, RunResults};

const HEADER: &str = "scenario,transport,codec,profile,kind,model,concurrency,offered_rate_per_s,repetition,\
window_s,sent,ok,failed,timed_out,achieved_rate_per_s,generator_bound,p50_us,p90_us,p99_us,p999_us,max_us,\
mean_us,service_p50_us,service_p99_us,client_sent_bytes_per_call,client_received_bytes_per_call,\
worker_sent_bytes_per_call,worker_received_bytes_per_call,client_cpu_us_per_call,server_cpu_us_per_call,\
broker_cpu_us_per_call";

/// Renders every measurement of `run` as CSV, header first.
pub fn export(run: &RunResults) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for arm in &run.arms {
        for point in &arm.points {
            for m in &point.repetitions {
                row(&mut out, arm, "point", point.load.model_name(), point.load.concurrency(), m);
            }
        }
        for sweep in arm.sweep.iter().flat_map(|s| &s.repetitions) {
            for m in &sweep.steps {
                row(&mut out, arm, "sweep", "open", None, m);
            }
        }
    }
    out
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_default()
}

fn hop(m: &Measurement, name: &str) -> (Option<f64>, Option<f64>) {
    let h = m.wire.as_ref().and_then(|w| w.hops.iter().find(|h| h.hop == name));
    (h.map(|h| h.sent_bytes_per_call), h.map(|h| h.received_bytes_per_call))
}

fn row(out: &mut String, arm: &ArmResult, kind: &str, model: &str, concurrency: Option<u32>, m: &Measurement) {
    let (cs, cr) = hop(m, "client");
    let (ws, wr) = hop(m, "worker");
    let a = &m.accounting;
    let _ = writeln!(
        out,
        "{},{},{},{},{kind},{model},{},{},{},{:.3},{},{},{},{},{:.3},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{},{},{}",
        arm.scenario,
        arm.transport,
        arm.codec,
        arm.profile,
        concurrency.map(|c| c.to_string()).unwrap_or_default(),
        opt(m.offered_rate_per_s),
        m.repetition,
        m.window_s,
        a.sent,
        a.ok,
        a.failed_total,
        a.timed_out,
        m.achieved_rate_per_s,
        m.generator_bound,
        m.latency.p50_us,
        m.latency.p90_us,
        m.latency.p99_us,
        m.latency.p999_us,
        m.latency.max_us,
        m.latency.mean_us,
        m.service_time.p50_us,
        m.service_time.p99_us,
        opt(cs),
        opt(cr),
        opt(ws),
        opt(wr),
        opt(m.cpu.client_us_per_call),
        opt(m.cpu.server_us_per_call),
        opt(m.cpu.broker_us_per_call),
    );
}
