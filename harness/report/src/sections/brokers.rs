//! Brokers: each broker arm's implementation, version, endpoint and the settings that decide its
//! latency.

use super::part::{Context, Part, Scope, Section, Show};
use crate::results::ArmStatus;
use crate::tables::Table;
use crate::{Report, Result};

/// The brokers table of the run.
pub const SECTION: Section = Section {
    id: "broker-settings",
    title: "Brokers: identities and settings",
    scope: Scope::Run,
    show: Show::Collapsed,
    in_summary: false,
    build,
};

/// How to read the table.
pub const LEAD: &str = "Broker arms (RabbitMQ RPC, Kafka request/reply, NATS request/reply) carry each call twice over TCP (client → broker → worker and back); their numbers are labelled with the broker's implementation and version. Settings results.json does not record are marked “not recorded”.";

fn build(cx: &Context<'_>) -> Result<Option<Part>> {
    Ok(Some(Part::table(Some(LEAD), brokers_table(cx.report))))
}

/// The settings that decide a broker arm's latency (recorded in `BrokerMeta::settings`).
pub const BROKER_SETTINGS: [&str; 5] = ["durability", "acks", "linger", "fetch wait", "reply-to mode"];

/// `k=v; k=v` of a broker's recorded settings, or "not recorded" (files older than the field).
fn settings_text(broker: Option<&crate::results::BrokerMeta>) -> String {
    match broker {
        Some(b) if !b.settings.is_empty() => {
            b.settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
        }
        _ => "not recorded".to_string(),
    }
}

/// Broker arms: implementation, version, endpoint, and the latency-deciding settings.
pub fn brokers_table(report: &Report) -> Table {
    let header: Vec<String> =
        ["arm", "status", "implementation", "version", "endpoint", "latency settings"].map(String::from).to_vec();
    let rows = report
        .results
        .arms
        .iter()
        .filter(|a| a.is_broker_arm())
        .map(|arm| {
            let status = match &arm.status {
                ArmStatus::Ran => "ran".to_string(),
                ArmStatus::Unavailable { kind, message } => format!("did not run ({kind}): {message}"),
            };
            let broker = arm
                .broker
                .as_ref()
                .or_else(|| report.results.environment.brokers.iter().find(|b| b.transport == arm.transport));
            let mut cells = vec![format!("{} / {}", arm.transport, arm.profile), status];
            match broker {
                Some(b) => cells.extend([b.implementation.clone(), b.version.clone(), b.endpoint.clone()]),
                None => cells.extend(["not recorded".to_string(), "not recorded".into(), arm.endpoint.clone()]),
            }
            cells.push(settings_text(broker));
            cells
        })
        .collect();
    Table { header, rows }
}
