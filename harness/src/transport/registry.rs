//! The one list of transport families, and the only code that knows them by name.
//!
//! Each family is one module under `transport/` with the same parts in the same order (options,
//! client, server or worker, tests) and one line below. Everything else in paybench handles arms
//! as data ([`Arm`]): a family, a codec and options. Adding a family is one new module plus one
//! line here: see `docs/adding-a-transport.md`.
//!
//! What reads arms against the families is here too: arm names ([`Arm::parse`], also behind
//! `FromStr` and `Deserialize`), a scenario's [`ArmRequest`] and the [`Settings`] file. Options
//! come from three places, later ones winning: the family's built-in defaults, a [`Settings`]
//! file (`paybench run --settings FILE`, one table per family, with `PAYBENCH_*` environment
//! overrides applied by the binary), and the arm's own table in the scenario. Every result records
//! the resolved options.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use paybench_model::arm_request::{value_text, ArmNames};
pub use paybench_model::arm_request::{ArmRequest, ArmTable};
use paybench_model::scenario::Scenario;

use super::arm::{allowed_keys, codec_of_token, Arm, Family, OptionValues, ReplayWire, PROTECT_LAYER};
use super::{amqp, backlog, grpc, inproc, kafka, nats, pubsub, rest, sim, tcp};
use super::{AnyClient, ClientConfig, ServerConfig, ServerHandle};
use crate::codec::Codec;
use crate::{Error, Result};

/// Every family, direct ones first (the order of `paybench` listings).
#[rustfmt::skip] // one line per family: the registry reads as a table
pub static FAMILIES: &[Family] = &[
    Family { name: "inproc", stem: "inproc", module: "transport::inproc", default_codec: Codec::Protobuf, broker: None, options: inproc::OPTIONS, standard: &["inproc"], serve: inproc::serve_arm, connect: inproc::connect_arm, settings: None, replay: None, backlog: None, pubsub: None, protect: false },
    Family { name: "sim", stem: "sim", module: "transport::sim", default_codec: Codec::Protobuf, broker: None, options: sim::OPTIONS, standard: &["sim"], serve: sim::serve_arm, connect: sim::connect_arm, settings: None, replay: None, backlog: None, pubsub: None, protect: false },
    Family { name: "tcp", stem: "tcp", module: "transport::tcp", default_codec: Codec::Protobuf, broker: None, options: tcp::OPTIONS, standard: &["tcp"], serve: tcp::serve_arm, connect: tcp::connect_arm, settings: None, replay: Some(ReplayWire::Frames), backlog: None, pubsub: None, protect: false },
    Family { name: "grpc", stem: "grpc", module: "transport::grpc", default_codec: Codec::Protobuf, broker: None, options: grpc::OPTIONS, standard: &["grpc", "grpc-json"], serve: grpc::serve_arm, connect: grpc::connect_arm, settings: None, replay: Some(ReplayWire::Grpc), backlog: None, pubsub: Some(&pubsub::DIRECT_PUBSUB), protect: true },
    Family { name: "http", stem: "rest", module: "transport::rest", default_codec: Codec::Json, broker: None, options: rest::OPTIONS, standard: &["rest", "rest-h2", "rest-proto"], serve: rest::serve_arm, connect: rest::connect_arm, settings: None, replay: Some(ReplayWire::Http), backlog: None, pubsub: Some(&pubsub::DIRECT_PUBSUB), protect: true },
    Family { name: "amqp", stem: "amqp", module: "transport::amqp", default_codec: Codec::Protobuf, broker: Some("rabbitmq"), options: amqp::OPTIONS, standard: &["amqp", "amqp-json"], serve: amqp::serve_arm, connect: amqp::connect_arm, settings: None, replay: None, backlog: Some(backlog::rabbitmq_queue), pubsub: Some(&pubsub::AMQP_PUBSUB), protect: false },
    Family { name: "kafka", stem: "kafka", module: "transport::kafka", default_codec: Codec::Protobuf, broker: Some("kafka"), options: kafka::OPTIONS, standard: &["kafka", "kafka-json"], serve: kafka::serve_arm, connect: kafka::connect_arm, settings: Some(kafka::settings_arm), replay: None, backlog: Some(backlog::kafka_group_lag), pubsub: Some(&pubsub::KAFKA_PUBSUB), protect: false },
    Family { name: "nats", stem: "nats", module: "transport::nats", default_codec: Codec::Protobuf, broker: Some("nats"), options: nats::OPTIONS, standard: &["nats", "nats-json"], serve: nats::serve_arm, connect: nats::connect_arm, settings: None, replay: None, backlog: None, pubsub: Some(&pubsub::NATS_PUBSUB), protect: false },
];

/// The arms the claim under test and its decomposition are about, by canonical name (in the model
/// crate, which the report reads).
pub use paybench_model::claim;

/// How the arm's client holds connections, and the HTTP/2 settings its server announces (see
/// [`paybench_model::connections::connection_policy`], which the report reads from the records).
pub fn connection_policy(arm: &Arm, max_in_flight: usize) -> (String, String) {
    paybench_model::connections::connection_policy(arm.family().name, &arm.options_owned(), max_in_flight)
}

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The family whose canonical names start with `stem`.
pub fn family_by_stem(stem: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.stem == stem)
}

/// The family names, comma-separated, for messages.
pub fn family_names() -> String {
    FAMILIES.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// The standard arms, in listing order: every family's [`Family::standard`] names. `cargo bench`,
/// `paybench bench-table` and the tests run these.
pub fn standard_arms() -> Vec<Arm> {
    FAMILIES.iter().flat_map(|f| f.standard).filter_map(|name| Arm::parse(name).ok()).collect()
}

/// The standard arms that need no broker.
pub fn direct_arms() -> Vec<Arm> {
    standard_arms().into_iter().filter(|a| a.broker().is_none()).collect()
}

/// Starts the server or workers for `arm` on the current tokio runtime.
pub async fn serve(arm: &Arm, config: &ServerConfig) -> Result<ServerHandle> {
    (arm.family().serve)(arm, &config.for_arm(arm)).await
}

/// The library settings behind `arm`'s figures in `namespace` (empty for families without any).
pub fn client_settings(arm: &Arm, namespace: &str) -> Result<Vec<(&'static str, String)>> {
    arm.family().settings.map_or(Ok(Vec::new()), |settings| settings(arm, namespace))
}

/// Connects a client for `arm` to `endpoint` (a `host:port` or a broker URL).
pub async fn connect(arm: &Arm, endpoint: &str, config: &ClientConfig) -> Result<AnyClient> {
    let mut config = config.clone();
    config.send_deadline |= arm.is_protected();
    let client = (arm.family().connect)(arm, endpoint, &config).await.map_err(|e| match e {
        // The family names itself (`amqp-json`); the error names the arm (`amqp-json-durable-w4`).
        Error::Call(call) => Error::Call(call.for_arm(crate::error::intern(arm.name()))),
        other => other,
    })?;
    if !arm.is_protected() {
        return Ok(client);
    }
    let name = crate::error::intern(arm.name());
    Ok(AnyClient::new(arm, super::protect::Protected::new(name, client)?))
}

/// Arm names are read against the registry: the stem names the family, the tokens its options.
impl Arm {
    /// Parses a canonical (or historical) arm name such as `rest-h2` or `amqp-json-durable`,
    /// with every option it does not name at the family's built-in default.
    pub fn parse(name: &str) -> Result<Self> {
        if let Some((base, layer)) = name.split_once('+') {
            if layer != PROTECT_LAYER {
                return Err(Error::Config(format!(
                    "arm {name:?}: unknown layer `+{layer}`; layers: +{PROTECT_LAYER} (the standard protections)"
                )));
            }
            return Arm::parse(base)?.protected(&format!("arm {name:?}"), FAMILIES);
        }
        let unknown =
            || Error::Config(format!("unknown arm {name:?}; families: {} (e.g. {})", family_names(), EXAMPLES));
        let mut tokens = name.split('-');
        let stem = tokens.next().unwrap_or_default();
        let family = family_by_stem(stem).ok_or_else(unknown)?;
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
        if arm.name() != name {
            return Err(Error::Config(format!("arm {name:?} is spelled {:?}", arm.name())));
        }
        Ok(arm)
    }
}

const EXAMPLES: &str = "grpc, grpc-json, rest, rest-h2, rest-proto, amqp-json";

impl std::str::FromStr for Arm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Arm::parse(s)
    }
}

/// Results store an arm by its canonical name; reading one back parses it ([`Arm::parse`]).
impl<'de> Deserialize<'de> for Arm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Arm::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Resolving a scenario's [`ArmRequest`] (a model record) against the families.
pub trait Resolve {
    /// Resolves the request against `settings`; errors name `source` (the scenario file).
    fn resolve(&self, settings: &Settings, source: &str) -> Result<Arm>;
}

impl Resolve for ArmRequest {
    fn resolve(&self, settings: &Settings, source: &str) -> Result<Arm> {
        let (base, codec, explicit) = match self {
            ArmRequest::Name(name) => (Arm::parse(name).map_err(|e| in_file(source, e))?, None, OptionValues::new()),
            ArmRequest::Table(t) => {
                let base = match family(&t.family) {
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
        let family = base.family();
        let mut values: OptionValues = settings.family(family.name).clone();
        for spec in family.options {
            let named = &base.options()[spec.key];
            if named != spec.default {
                values.insert(spec.key.to_owned(), named.clone());
            }
        }
        values.extend(explicit);
        let source = format!("{source}: arm {:?}", self.label());
        let arm = Arm::build(family, codec.or(Some(base.codec())), &values, &source)?;
        // A layer the name gave (`grpc+res`) stays on the arm the settings resolve.
        if base.is_protected() {
            return arm.protected(&source, FAMILIES);
        }
        Ok(arm)
    }
}

/// The registry as the model's scenario checks see it: canonical names for a scenario's requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry;

impl ArmNames for Registry {
    fn canonical_names(&self, requests: &[ArmRequest], source: &str) -> Result<Vec<String>> {
        Ok(resolve_all(requests, &Settings::default(), source)?.iter().map(|a| a.name().to_owned()).collect())
    }

    fn canonical_name(&self, request: &ArmRequest) -> Option<String> {
        request.resolve(&Settings::default(), "").ok().map(|a| a.name().to_owned())
    }

    fn vocabulary(&self) -> String {
        format!(
            "transports: names such as {} or tables with a `family` (one of {})",
            standard_arms().iter().map(|a| a.name().to_owned()).collect::<Vec<_>>().join(", "),
            family_names()
        )
    }
}

/// A scenario's arms, resolved against `settings`; two requests that resolve to the same arm are
/// an error (their results would be indistinguishable). `path` names the scenario in errors.
pub fn scenario_arms(scenario: &Scenario, settings: &Settings, path: &Path) -> Result<Vec<Arm>> {
    resolve_all(&scenario.transports, settings, &path.display().to_string())
}

fn resolve_all(requests: &[ArmRequest], settings: &Settings, source: &str) -> Result<Vec<Arm>> {
    let mut arms: Vec<Arm> = Vec::new();
    for request in requests {
        let arm = request.resolve(settings, source)?;
        if arms.contains(&arm) {
            return Err(Error::Config(format!("{source}: transports: arm {arm} is listed twice")));
        }
        arms.push(arm);
    }
    Ok(arms)
}

fn in_file(source: &str, e: Error) -> Error {
    match e {
        Error::Config(message) => Error::Config(format!("{source}: {message}")),
        other => other,
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
        for family in FAMILIES {
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
        let family = family(family_name).ok_or_else(|| {
            Error::Config(format!("{source}: unknown family [{family_name}]; families: {}", family_names()))
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
    use crate::transport::arm::OptionKind;

    /// The reference scenario's budget: its estimate (windows and warm-ups; broker starts and
    /// server restarts add a few minutes) stays within 60 minutes (the last reference run took 52
    /// minutes on an estimate of 47).
    #[test]
    fn the_reference_scenario_fits_its_budget() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/full.toml");
        let s = Scenario::load(&path, &Registry).unwrap();
        let minutes = s.estimated_seconds() / 60.0;
        eprintln!("scenarios/full.toml: about {minutes:.1} minutes of windows and warm-ups");
        assert!(minutes <= 60.0, "{minutes:.1} minutes");
        assert_eq!(
            s.repetitions_for("grpc", crate::payload::Profile::Typical),
            30,
            "the headline's tails get 30 windows"
        );
    }

    /// Each family's typed options: the defaults parsed from its specs are the options of its
    /// plain arm, and an option away from its default reads typed.
    #[test]
    fn typed_options_agree_with_the_specs() {
        let arm = |name: &str| Arm::parse(name).unwrap();
        assert_eq!(amqp::Options::defaults(), amqp::Options::of(&arm("amqp")).unwrap());
        assert_eq!(kafka::Options::defaults(), kafka::Options::of(&arm("kafka")).unwrap());
        assert_eq!(nats::Options::defaults(), nats::Options::of(&arm("nats")).unwrap());
        assert_eq!(grpc::Options::defaults(), grpc::Options::of(&arm("grpc")).unwrap());
        assert_eq!(rest::Options::defaults(), rest::Options::of(&arm("rest")).unwrap());
        assert_eq!(sim::Options::defaults(), sim::Options::of(&arm("sim")).unwrap());
        let o = amqp::Options::of(&arm("amqp-json-durable-w4")).unwrap();
        assert_eq!((o.durable, o.workers, o.prefetch, o.reply_to.as_str()), (true, 4, 64, "direct"));
        assert_eq!(rest::Options::of(&arm("rest-h2")).unwrap().http, "2");
        assert_eq!(grpc::Options::of(&arm("grpc-ch4")).unwrap().channels, 4);
        // The configs' defaults are the specs' (no second list of defaults to drift).
        let c = kafka::Config::default();
        assert_eq!((c.partitions, c.workers, c.fetch_wait_max_ms, c.durable), (4, 2, 5, false));
    }

    /// The report colours arms from their records (family and name), with no registry: every
    /// standard arm and some variants still get a colour of their own, the same in every run.
    #[test]
    fn every_arm_gets_a_stable_colour_of_its_own() {
        use crate::report::charts::arm_color;
        let mut arms = standard_arms();
        for name in ["grpc-ch4", "amqp-json-durable", "kafka-fetchwait1", "rest-proto-h2", "nats-w4"] {
            arms.push(Arm::parse(name).unwrap());
        }
        let colours: Vec<_> = arms.iter().map(|a| arm_color(a.family().name, a.name())).collect();
        for (i, a) in colours.iter().enumerate() {
            for (j, b) in colours.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{} and {} share a colour", arms[i], arms[j]);
            }
        }
        let i = arms.iter().position(|a| a.name() == "rest-h2").unwrap();
        assert_eq!(arm_color("http", "rest-h2"), colours[i]);
    }

    /// Files before schema 3 get each arm's family and broker from a frozen table of stems: it
    /// must agree with today's registry on every family it lists.
    #[test]
    fn the_schema_2_family_table_agrees_with_the_registry() {
        for (stem, family_name, broker) in paybench_model::results::SCHEMA_2_FAMILIES {
            let f = family(family_name).unwrap_or_else(|| panic!("{family_name} is no longer a family"));
            assert_eq!((f.stem, f.broker), (stem, broker), "{family_name}");
        }
    }
    #[test]
    fn names_and_stems_are_unique() {
        for (i, a) in FAMILIES.iter().enumerate() {
            for b in &FAMILIES[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.stem, b.stem);
            }
        }
    }

    #[test]
    fn standard_arms_are_todays_arms_plus_sim_and_nats() {
        let names: Vec<String> = standard_arms().iter().map(|a| a.name().to_owned()).collect();
        assert_eq!(
            names,
            [
                "inproc",
                "sim",
                "tcp",
                "grpc",
                "grpc-json",
                "rest",
                "rest-h2",
                "rest-proto",
                "amqp",
                "amqp-json",
                "kafka",
                "kafka-json",
                "nats",
                "nats-json"
            ]
        );
    }

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
        for family in FAMILIES {
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
