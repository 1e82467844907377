//! An arm is data: a transport family, a body codec and the family's options.
//!
//! [`Arm`] is what every other module handles; only [`super::registry`] knows the families. A
//! spec has one **canonical name**, derived from it by one rule, so the same name always means the
//! same measurement and today's names keep their meaning:
//!
//! `<stem>[-<codec>][-<option token>...]`: the family's stem (`rest` for the `http` family), then
//! `json` or `proto` when the codec is not the family's default, then one token per option whose
//! value is not the family's built-in default, in the family's declared order. A flag's token is
//! its name (`durable`); a choice or a number is its token followed by the value (`h2`, `w4`).
//!
//! | spec | canonical name |
//! |---|---|
//! | `grpc`, protobuf | `grpc` |
//! | `grpc`, JSON | `grpc-json` |
//! | `http`, JSON, `http = "2"` | `rest-h2` |
//! | `http`, protobuf | `rest-proto` |
//! | `amqp`, JSON, `durable = true` | `amqp-json-durable` |
//!
//! Options come from three places, later ones winning: the family's built-in defaults, a
//! [`Settings`] file (`paybench run --settings FILE`, one table per family, with `PAYBENCH_*`
//! environment overrides applied by the binary), and the arm's own table in the scenario. Every
//! result records the resolved options.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::registry::{self, Family};
use crate::codec::Codec;
use crate::{Error, Result};

/// What values an option takes.
#[derive(Debug, Clone, Copy)]
pub enum OptionKind {
    /// `true` or `false`; its name token appears when `true`.
    Flag,
    /// One of a fixed list of values.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Count {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
}

/// One option a family accepts.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// Key in scenario tables, settings files and results (`http`, `durable`, `workers`).
    pub key: &'static str,
    /// The allowed values.
    pub kind: OptionKind,
    /// The built-in default, as text.
    pub default: &'static str,
    /// The token in the canonical name (see the module docs).
    pub token: &'static str,
    /// What it changes, and why the default is what it is (printed by errors and docs).
    pub help: &'static str,
}

impl OptionSpec {
    /// The allowed values, for error messages.
    pub fn allowed(&self) -> String {
        match self.kind {
            OptionKind::Flag => "true, false".to_owned(),
            OptionKind::Choice(values) => values.join(", "),
            OptionKind::Count { min, max } => format!("{min}..={max}"),
        }
    }

    /// Normalises `value` (`"1"` and `true` are the same flag), or says why it is not allowed.
    fn normalise(&self, value: &str) -> std::result::Result<String, String> {
        let value = value.trim();
        let ok = match self.kind {
            OptionKind::Flag => match value {
                "true" | "1" | "yes" | "on" => Some("true".to_owned()),
                "false" | "0" | "no" | "off" => Some("false".to_owned()),
                _ => None,
            },
            OptionKind::Choice(values) => values.iter().find(|v| **v == value).map(|v| (*v).to_owned()),
            OptionKind::Count { min, max } => {
                value.parse::<u64>().ok().filter(|n| (min..=max).contains(n)).map(|n| n.to_string())
            }
        };
        ok.ok_or_else(|| format!("{value:?} is not allowed; allowed: {}", self.allowed()))
    }

    /// The name token for a non-default value.
    fn name_token(&self, value: &str) -> String {
        match self.kind {
            OptionKind::Flag => self.token.to_owned(),
            OptionKind::Choice(_) | OptionKind::Count { .. } => format!("{}{value}", self.token),
        }
    }

    /// The value a name token stands for, if it is this option's.
    fn parse_token(&self, token: &str) -> Option<String> {
        match self.kind {
            OptionKind::Flag => (token == self.token).then(|| "true".to_owned()),
            _ => token.strip_prefix(self.token).and_then(|v| self.normalise(v).ok()),
        }
    }
}

/// One measured arm: a family, a codec and every option of the family, resolved.
///
/// Equality, order and hashing go by the canonical name, which is derived from the rest.
#[derive(Clone)]
pub struct Arm {
    name: String,
    family: &'static Family,
    codec: Codec,
    options: BTreeMap<&'static str, String>,
}

impl Arm {
    /// Builds an arm from a family, a codec (`None` = the family's default) and option values
    /// (unset ones take the family's defaults). `source` names the origin in errors.
    pub fn build(family: &'static Family, codec: Option<Codec>, values: &OptionValues, source: &str) -> Result<Self> {
        let mut options = BTreeMap::new();
        for spec in family.options {
            let value = match values.get(spec.key) {
                Some(v) => spec
                    .normalise(v)
                    .map_err(|why| Error::Config(format!("{source}: {} option `{}`: {why}", family.name, spec.key)))?,
                None => spec.default.to_owned(),
            };
            options.insert(spec.key, value);
        }
        if let Some(unknown) = values.keys().find(|k| !family.options.iter().any(|o| o.key == k.as_str())) {
            return Err(Error::Config(format!(
                "{source}: {} has no option `{unknown}`; allowed: {}",
                family.name,
                allowed_keys(family)
            )));
        }
        let codec = codec.unwrap_or(family.default_codec);
        let name = canonical_name(family, codec, &options);
        Ok(Self { name, family, codec, options })
    }

    /// Parses a canonical (or historical) arm name such as `rest-h2` or `amqp-json-durable`,
    /// with every option it does not name at the family's built-in default.
    pub fn parse(name: &str) -> Result<Self> {
        let unknown = || {
            Error::Config(format!("unknown arm {name:?}; families: {} (e.g. {})", registry::family_names(), EXAMPLES))
        };
        let mut tokens = name.split('-');
        let stem = tokens.next().unwrap_or_default();
        let family = registry::family_by_stem(stem).ok_or_else(unknown)?;
        let mut codec = None;
        let mut values = OptionValues::new();
        for token in tokens {
            if let Some(c) = codec_of_token(token).filter(|_| codec.is_none() && values.is_empty()) {
                codec = Some(c);
                continue;
            }
            let (key, value) =
                family.options.iter().find_map(|spec| spec.parse_token(token).map(|v| (spec.key, v))).ok_or_else(
                    || {
                        Error::Config(format!(
                            "arm {name:?}: {} has no option token {token:?}; options: {}",
                            family.name,
                            allowed_keys(family)
                        ))
                    },
                )?;
            values.insert(key.to_owned(), value);
        }
        let arm = Arm::build(family, codec, &values, &format!("arm {name:?}"))?;
        // A name is canonical only if it is what its spec derives (no `grpc-proto` for `grpc`).
        if arm.name != name {
            return Err(Error::Config(format!("arm {name:?} is spelled {:?}", arm.name)));
        }
        Ok(arm)
    }

    /// The canonical name, e.g. `rest-h2`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The family's entry in the registry.
    pub fn family(&self) -> &'static Family {
        self.family
    }

    /// The body codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The broker this arm goes through (`rabbitmq`, `kafka`, `nats`), if any.
    pub fn broker(&self) -> Option<&'static str> {
        self.family.broker
    }

    /// Every option, resolved, by key.
    pub fn options(&self) -> &BTreeMap<&'static str, String> {
        &self.options
    }

    /// The options as owned strings, for results.
    pub fn options_owned(&self) -> BTreeMap<String, String> {
        self.options.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    /// One option's value (validated when the arm was built).
    pub fn option(&self, key: &str) -> Result<&str> {
        self.options.get(key).map(String::as_str).ok_or_else(|| {
            Error::Internal(format!("{}: option `{key}` is not declared by family {}", self.name, self.family.name))
        })
    }

    /// A flag option.
    pub fn flag(&self, key: &str) -> Result<bool> {
        Ok(self.option(key)? == "true")
    }

    /// A numeric option.
    pub fn count<T: TryFrom<u64>>(&self, key: &str) -> Result<T> {
        let value = self.option(key)?;
        value
            .parse::<u64>()
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| Error::Internal(format!("{}: option `{key}` = {value:?} does not fit", self.name)))
    }
}

const EXAMPLES: &str = "grpc, grpc-json, rest, rest-h2, rest-proto, amqp-json";

fn allowed_keys(family: &Family) -> String {
    if family.options.is_empty() {
        return "none".to_owned();
    }
    family.options.iter().map(|o| format!("{} ({})", o.key, o.allowed())).collect::<Vec<_>>().join(", ")
}

fn codec_token(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "proto",
        Codec::Json => "json",
    }
}

fn codec_of_token(token: &str) -> Option<Codec> {
    [Codec::Protobuf, Codec::Json].into_iter().find(|c| codec_token(*c) == token)
}

fn canonical_name(family: &Family, codec: Codec, options: &BTreeMap<&'static str, String>) -> String {
    let mut name = family.stem.to_owned();
    if codec != family.default_codec {
        name.push('-');
        name.push_str(codec_token(codec));
    }
    for spec in family.options {
        let value = &options[spec.key];
        if value != spec.default {
            name.push('-');
            name.push_str(&spec.name_token(value));
        }
    }
    name
}

impl PartialEq for Arm {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Arm {}
impl Hash for Arm {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}
impl PartialOrd for Arm {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Arm {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.cmp(&other.name)
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)
    }
}

impl std::str::FromStr for Arm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Arm::parse(s)
    }
}

/// Results store an arm by its canonical name (the resolved options are stored beside it).
impl Serialize for Arm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Arm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Arm::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Option values by key, as text (`"2"`, `"true"`).
pub type OptionValues = BTreeMap<String, String>;

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

    /// Resolves the request against `settings`; errors name `source` (the scenario file).
    pub fn resolve(&self, settings: &Settings, source: &str) -> Result<Arm> {
        let (base, codec, explicit) = match self {
            ArmRequest::Name(name) => (Arm::parse(name).map_err(|e| in_file(source, e))?, None, OptionValues::new()),
            ArmRequest::Table(t) => {
                let base = match registry::family(&t.family) {
                    Some(family) => Arm::build(family, None, &OptionValues::new(), source)?,
                    None => Arm::parse(&t.family).map_err(|e| in_file(source, e))?,
                };
                let codec = match t.codec.as_deref() {
                    None => None,
                    Some("protobuf") => Some(Codec::Protobuf),
                    Some("json") => Some(Codec::Json),
                    Some(other) => {
                        return Err(Error::Config(format!(
                            "{source}: arm {:?}: codec {other:?}; allowed: protobuf, json",
                            t.family
                        )))
                    }
                };
                let explicit = t.options.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
                (base, codec, explicit)
            }
        };
        // Start from what the name says, let the settings fill what the name leaves at its
        // default, and let the scenario's explicit options win.
        let family = base.family;
        let mut values: OptionValues = settings.family(family.name).clone();
        for spec in family.options {
            let named = &base.options[spec.key];
            if named != spec.default {
                values.insert(spec.key.to_owned(), named.clone());
            }
        }
        values.extend(explicit);
        Arm::build(family, codec.or(Some(base.codec)), &values, &format!("{source}: arm {:?}", self.label()))
    }
}

fn in_file(source: &str, e: Error) -> Error {
    match e {
        Error::Config(message) => Error::Config(format!("{source}: {message}")),
        other => other,
    }
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Per-family option defaults: HOW to run (like OpenMessaging Benchmark's driver files), apart from
/// the scenario's WHAT. One TOML table per family:
///
/// ```toml
/// [kafka]
/// fetch_wait_max_ms = 1
/// [amqp]
/// workers = 4
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Family name → option key → value.
    #[serde(flatten)]
    pub families: BTreeMap<String, OptionValues>,
}

impl Settings {
    /// Reads and validates a settings file: unknown families, keys and values are errors naming
    /// the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Input { path: path.display().to_string(), message: e.to_string() })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses settings text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let raw: BTreeMap<String, BTreeMap<String, toml::Value>> =
            toml::from_str(text).map_err(|e| Error::Config(format!("{source}: {e}")))?;
        let mut settings = Settings::default();
        for (family, table) in raw {
            for (key, value) in table {
                settings.set(&family, &key, &value_text(&value), source)?;
            }
        }
        Ok(settings)
    }

    /// Applies `PAYBENCH_<FAMILY>_<OPTION>` variables (e.g. `PAYBENCH_KAFKA_FETCH_WAIT_MAX_MS=1`)
    /// from `vars`. Only the binaries call this, with the process environment.
    pub fn with_env_overrides(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let vars: BTreeMap<String, String> = vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        for family in registry::FAMILIES {
            for spec in family.options {
                let var = format!("PAYBENCH_{}_{}", family.name, spec.key).to_uppercase();
                if let Some(value) = vars.get(&var) {
                    self.set(family.name, spec.key, value, &format!("environment variable {var}"))?;
                }
            }
        }
        Ok(self)
    }

    /// Sets one option, validating it.
    pub fn set(&mut self, family_name: &str, key: &str, value: &str, source: &str) -> Result<()> {
        let family = registry::family(family_name).ok_or_else(|| {
            Error::Config(format!("{source}: unknown family [{family_name}]; families: {}", registry::family_names()))
        })?;
        let spec = family.options.iter().find(|o| o.key == key).ok_or_else(|| {
            Error::Config(format!("{source}: [{family_name}] has no option `{key}`; allowed: {}", allowed_keys(family)))
        })?;
        let value =
            spec.normalise(value).map_err(|why| Error::Config(format!("{source}: [{family_name}] `{key}`: {why}")))?;
        self.families.entry(family_name.to_owned()).or_default().insert(key.to_owned(), value);
        Ok(())
    }

    /// The values set for one family.
    pub fn family(&self, name: &str) -> &OptionValues {
        static EMPTY: OptionValues = OptionValues::new();
        self.families.get(name).unwrap_or(&EMPTY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn historical_names_keep_their_meaning() {
        for (name, family, codec) in [
            ("inproc", "inproc", Codec::Protobuf),
            ("tcp", "tcp", Codec::Protobuf),
            ("grpc", "grpc", Codec::Protobuf),
            ("grpc-json", "grpc", Codec::Json),
            ("rest", "http", Codec::Json),
            ("rest-h2", "http", Codec::Json),
            ("rest-proto", "http", Codec::Protobuf),
            ("amqp", "amqp", Codec::Protobuf),
            ("amqp-json", "amqp", Codec::Json),
            ("kafka", "kafka", Codec::Protobuf),
            ("kafka-json", "kafka", Codec::Json),
            ("nats", "nats", Codec::Protobuf),
            ("nats-json", "nats", Codec::Json),
        ] {
            let arm = Arm::parse(name).unwrap();
            assert_eq!((arm.name(), arm.family().name, arm.codec()), (name, family, codec));
        }
        assert_eq!(Arm::parse("rest-h2").unwrap().option("http").unwrap(), "2");
        assert_eq!(Arm::parse("rest").unwrap().option("http").unwrap(), "1.1");
    }

    #[test]
    fn every_option_value_round_trips_through_its_name() {
        for family in registry::FAMILIES {
            for codec in [Codec::Protobuf, Codec::Json] {
                for spec in family.options {
                    let values: Vec<String> = match spec.kind {
                        OptionKind::Flag => vec!["true".into(), "false".into()],
                        OptionKind::Choice(v) => v.iter().map(|s| (*s).to_owned()).collect(),
                        OptionKind::Count { min, max } => vec![min.to_string(), max.to_string()],
                    };
                    for value in values {
                        let arm =
                            Arm::build(family, Some(codec), &[(spec.key.to_owned(), value.clone())].into(), "test")
                                .unwrap();
                        let back = Arm::parse(arm.name()).unwrap();
                        assert_eq!(back.options(), arm.options(), "{}", arm.name());
                        assert_eq!(back.codec(), codec);
                    }
                }
            }
        }
    }

    #[test]
    fn bad_names_and_options_are_named() {
        let e = Arm::parse("soap").unwrap_err().to_string();
        assert!(e.contains("soap") && e.contains("families"), "{e}");
        let e = Arm::parse("rest-h3").unwrap_err().to_string();
        assert!(e.contains("h3") && e.contains("http"), "{e}");
        let e = Arm::parse("grpc-proto").unwrap_err().to_string();
        assert!(e.contains("spelled \"grpc\""), "{e}");
        let table = ArmRequest::Table(ArmTable {
            family: "amqp".into(),
            codec: None,
            options: [("durable".to_owned(), toml::Value::String("maybe".into()))].into(),
        });
        let e = table.resolve(&Settings::default(), "s.toml").unwrap_err().to_string();
        assert!(e.contains("s.toml") && e.contains("durable") && e.contains("true, false"), "{e}");
    }

    #[test]
    fn settings_fill_defaults_and_scenario_options_win() {
        let settings = Settings::parse("[amqp]\nworkers = 4\ndurable = true\n", "settings.toml").unwrap();
        let arm = ArmRequest::Name("amqp-json".into()).resolve(&settings, "s.toml").unwrap();
        assert_eq!(arm.name(), "amqp-json-durable-w4");
        let table = ArmRequest::Table(ArmTable {
            family: "amqp".into(),
            codec: Some("json".into()),
            options: [("durable".to_owned(), toml::Value::Boolean(false))].into(),
        });
        assert_eq!(table.resolve(&settings, "s.toml").unwrap().name(), "amqp-json-w4");
        let e = Settings::parse("[amqp]\nwarp = 9\n", "settings.toml").unwrap_err().to_string();
        assert!(e.contains("settings.toml") && e.contains("warp") && e.contains("workers"), "{e}");
        let env = Settings::default()
            .with_env_overrides([("PAYBENCH_KAFKA_FETCH_WAIT_MAX_MS".to_owned(), "1".to_owned())])
            .unwrap();
        assert_eq!(env.family("kafka")["fetch_wait_max_ms"], "1");
        let e = Settings::default()
            .with_env_overrides([("PAYBENCH_KAFKA_FETCH_WAIT_MAX_MS".to_owned(), "soon".to_owned())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PAYBENCH_KAFKA_FETCH_WAIT_MAX_MS"), "{e}");
    }
}
