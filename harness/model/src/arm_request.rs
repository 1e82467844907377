//! An arm as a scenario names it, before the transport registry (in the `paybench` crate)
//! resolves it: plain data, so a scenario stored in a results file reads without the registry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Result;

/// An arm as a scenario names it: a name (`"rest-h2"`), or a table with a family, an optional
/// codec and options (`{ family = "amqp", codec = "json", durable = true }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ArmRequest {
    /// A canonical or historical name.
    Name(String),
    /// A family with options.
    Table(ArmTable),
}

/// The table form of an [`ArmRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmTable {
    /// A family (`grpc`, `http`, `amqp`, ...) or an arm name to start from (`rest-h2`).
    pub family: String,
    /// `protobuf` or `json`; the family's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// The family's options.
    #[serde(flatten)]
    pub options: BTreeMap<String, toml::Value>,
}

impl ArmRequest {
    /// What the scenario wrote, for filters and messages.
    pub fn label(&self) -> String {
        match self {
            ArmRequest::Name(name) => name.clone(),
            ArmRequest::Table(t) => {
                let options: Vec<String> = t.options.iter().map(|(k, v)| format!("{k}={}", value_text(v))).collect();
                let codec = t.codec.as_deref().map(|c| format!(" codec={c}")).unwrap_or_default();
                format!("{}{codec} {}", t.family, options.join(" ")).trim_end().to_owned()
            }
        }
    }
}

/// A TOML option value as text (`"2"` and `2` are the same value).
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a scenario's checks need from the transport registry, which lives above this crate: the
/// canonical names its requests resolve to, and the vocabulary for a parse error.
pub trait ArmNames {
    /// The canonical name of every request, in order; an error (naming `source`) for an unknown,
    /// misspelled or duplicated arm.
    fn canonical_names(&self, requests: &[ArmRequest], source: &str) -> Result<Vec<String>>;
    /// The canonical name of one request, if it resolves.
    fn canonical_name(&self, request: &ArmRequest) -> Option<String>;
    /// For a parse error: the arm names and families a scenario may use.
    fn vocabulary(&self) -> String;
}
