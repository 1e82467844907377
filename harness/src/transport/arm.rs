//! An arm is data: a transport family, a body codec and the family's options.
//!
//! [`Arm`] is what every other module handles; only [`super::registry`] knows the families (and
//! so parses arm names, resolves a scenario's arms and reads settings). This file is what the
//! registry and the family modules share: [`Arm`], built from a [`Family`] it is given, the
//! options ([`OptionSpec`]) and the [`Family`] entry itself. It imports no family and not the
//! registry.
//!
//! A spec has one **canonical name**, derived from it by one rule, so the same name always means
//! the same measurement and today's names keep their meaning:
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
//! | `grpc` with the standard protections | `grpc+res` |
//!
//! A **layer** is cross-cutting, not an option of one family: `+res` puts the standard
//! protections around an arm (deadlines sent to the server, retries with a budget, a server-wide
//! concurrency limit with load shedding, a client circuit breaker: [`super::protect`]). A family
//! takes it when its entry says so ([`Family::protect`]); parsing checks it.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use futures::future::BoxFuture;
use serde::Serialize;

use super::{AnyClient, ClientConfig, ServerConfig, ServerHandle};
use crate::codec::Codec;
use crate::{Error, Result};
use std::sync::Arc;
use std::time::Duration;

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
    pub(super) fn normalise(&self, value: &str) -> std::result::Result<String, String> {
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
    pub(super) fn parse_token(&self, token: &str) -> Option<String> {
        match self.kind {
            OptionKind::Flag => (token == self.token).then(|| "true".to_owned()),
            _ => token.strip_prefix(self.token).and_then(|v| self.normalise(v).ok()),
        }
    }
}

/// Starts a family's server (direct arms) or worker pool (broker arms) for an arm.
pub type ServeFn = fn(&Arm, &ServerConfig) -> BoxFuture<'static, Result<ServerHandle>>;
/// Connects a family's client for an arm to an endpoint (`host:port` or a broker URL).
pub type ConnectFn = fn(&Arm, &str, &ClientConfig) -> BoxFuture<'static, Result<AnyClient>>;
/// The client-library settings an arm's options resolve to, in a namespace, by name (recorded in
/// results next to the broker).
pub type SettingsFn = fn(&Arm, &str) -> Result<Vec<(&'static str, String)>>;

/// A transport family: what the registry knows about one module.
#[derive(Debug)]
pub struct Family {
    /// The family's name in scenario tables and settings files (`grpc`, `http`, `amqp`).
    pub name: &'static str,
    /// The first token of its arms' canonical names (`rest` for `http`, so `rest-h2` stays).
    pub stem: &'static str,
    /// The module that implements it, for docs and messages.
    pub module: &'static str,
    /// The body codec its arms use unless told otherwise.
    pub default_codec: Codec,
    /// The broker it goes through, by the name `brokers/` knows it (`rabbitmq`, `kafka`, `nats`).
    pub broker: Option<&'static str>,
    /// The options it accepts, in canonical-name order.
    pub options: &'static [OptionSpec],
    /// Its standard arms by canonical name: what benches and tests run when not told otherwise.
    pub standard: &'static [&'static str],
    /// How its server or workers start.
    pub serve: ServeFn,
    /// How its client connects.
    pub connect: ConnectFn,
    /// The library settings behind its figures, where its options do not name them one to one.
    pub settings: Option<SettingsFn>,
    /// The wire the replay client (pre-encoded bytes, `load::replay`) speaks to its server, if it
    /// can drive it: a capability of the family, as TLS will be.
    pub replay: Option<ReplayWire>,
    /// How to read its broker's backlog (requests waiting for a worker), if the broker keeps one.
    pub backlog: Option<BacklogFn>,
    /// How one event reaches N of its services, and whether its broker keeps a history to replay
    /// ([`super::pubsub`]).
    pub pubsub: Option<&'static PubSub>,
    /// Whether its server and client take the `+res` layer (the standard protections of a direct
    /// RPC: [`super::protect`]).
    pub protect: bool,
}

/// Reads one arm's backlog from its broker: requests sent and not yet taken by a worker, as the
/// broker itself counts them (never inferred from the client's counts).
pub trait Backlog: Send {
    /// The backlog now.
    fn read(&mut self) -> Result<u64>;
    /// What is read, for results and the report (`RabbitMQ: messages ready in queue payments`).
    fn describe(&self) -> String;
}

/// Opens a backlog reader for an arm, given its broker endpoint and the run's namespace.
pub type BacklogFn = fn(&Arm, &str, &str) -> Result<Box<dyn Backlog>>;

// --- publish/subscribe: the seam beside `Transport::call`, implemented in `super::pubsub` ---

/// Subscriber `index` received this event.
pub type Deliver = Arc<dyn Fn(usize, &[u8]) + Send + Sync>;

/// One event, published once, to every subscriber.
pub trait Bus: Send + Sync {
    /// Publishes `event`; resolves once the producer may count it handed off ([`Bus::handed_off`]).
    fn publish(&self, event: Vec<u8>) -> BoxFuture<'_, Result<()>>;
    /// Adds subscriber `index`, which hands each event it receives to `deliver`; resolves once it
    /// is subscribed (a Kafka group assigned its partition, a queue bound, a subscription flushed).
    fn subscribe(&self, index: usize, deliver: Deliver) -> BoxFuture<'_, Result<()>>;
    /// What a publish waits for, in words.
    fn handed_off(&self) -> String;
    /// Where a subscriber's receipt is seen, in words.
    fn received_at(&self) -> &'static str {
        "on the subscriber, as it receives the event"
    }
    /// Stops the subscribers and removes what the bus created on the broker (bounded).
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Opens a bus for an arm, given its endpoint, its namespace and each service's simulated work
/// per event (a direct server waits it before it answers; a broker's subscribers hand each event
/// on at once, and the caller's [`Deliver`] does the waiting).
pub type OpenFn = fn(&Arm, &str, &str, Duration) -> BoxFuture<'static, Result<Box<dyn Bus>>>;
/// Publishes `older + events` events to a new topic and has a new consumer group read the last
/// `events` of them by offset (`older`, `events`).
pub type ReplayFn = fn(&Arm, &str, &str, u64, u64) -> BoxFuture<'static, Result<Replayed>>;

/// A family's publish/subscribe capability.
#[derive(Debug)]
pub struct PubSub {
    /// How one event reaches N services.
    pub open: OpenFn,
    /// Whether the broker keeps a history a new consumer can read again.
    pub history: History,
}

/// Whether a family's broker keeps what it delivered.
#[derive(Debug)]
pub enum History {
    /// It does: how to replay it.
    Replay(ReplayFn),
    /// It does not, and why (the replay table prints it).
    Cannot(&'static str),
}

/// What a replay read.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    /// How the history was read.
    pub how: String,
    /// Sequence numbers read, in the order read.
    pub seqs: Vec<u64>,
    /// From the new consumer's start to its first event.
    pub first_after: Option<Duration>,
    /// From its first event to its last.
    pub span: Duration,
}

/// What the replay client sends a family's server: pre-encoded bytes on the family's own wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayWire {
    /// `tcp`'s length-prefixed frames with correlation ids.
    Frames,
    /// gRPC over h2c: length-prefixed message, `grpc-status` trailer.
    Grpc,
    /// A plain HTTP body; HTTP/1.1 or h2c by the arm's `http` option.
    Http,
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
    /// The `+res` layer: the standard protections around the arm.
    protected: bool,
}

/// The token of the protections layer in a canonical name (`grpc+res`).
pub const PROTECT_LAYER: &str = "res";

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
        Ok(Self { name, family, codec, options, protected: false })
    }

    /// The same arm with the standard protections around it (`+res`); an error names the
    /// families that take them.
    pub fn protected(mut self, source: &str, families: &[Family]) -> Result<Self> {
        if !self.family.protect {
            let takers: Vec<&str> = families.iter().filter(|f| f.protect).map(|f| f.name).collect();
            return Err(Error::Config(format!(
                "{source}: family {} does not take the `+{PROTECT_LAYER}` layer (the standard protections); the families that do: {}",
                self.family.name,
                takers.join(", ")
            )));
        }
        self.protected = true;
        self.name = format!("{}+{PROTECT_LAYER}", self.name);
        Ok(self)
    }

    /// Whether the standard protections are around it (`+res`).
    pub fn is_protected(&self) -> bool {
        self.protected
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

    /// An option as its typed value (see [`family_options!`]): the text was validated against the
    /// option's spec when the arm was built, so a failure here is a declaration that disagrees with
    /// its spec.
    pub fn typed<T: OptionValue>(&self, key: &str) -> Result<T> {
        let value = self.option(key)?;
        T::from_text(value)
            .ok_or_else(|| Error::Internal(format!("{}: option `{key}` = {value:?} does not fit its field", self.name)))
    }
}

/// A typed option value, from the text an option resolves to.
pub trait OptionValue: Sized {
    /// The value `text` (normalised by its spec) stands for.
    fn from_text(text: &str) -> Option<Self>;
}

impl OptionValue for bool {
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A choice, as its text.
impl OptionValue for String {
    fn from_text(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

macro_rules! counts_are_option_values {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            fn from_text(text: &str) -> Option<Self> {
                text.parse().ok()
            }
        }
    )*};
}
counts_are_option_values!(u16, u32, u64, usize, i32);

/// Declares a family's options once, as a struct with one typed field per option: the same lines
/// give the field, its spec (`SPECS`, the registry's `options`, in canonical-name order), its
/// reading from an arm (`of`) and the built-in defaults (`defaults`, parsed from the specs, never
/// restated). An option's key is its field's name, and its help is the field's doc.
///
/// ```ignore
/// family_options! {
///     /// The `nats` family's options.
///     pub struct Options {
///         workers: usize = "2", OptionKind::Count { min: 1, max: 64 }, token "w", help "worker connections";
///     }
/// }
/// ```
macro_rules! family_options {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $field:ident : $ty:ty = $default:literal, $kind:expr, token $token:literal, help $help:literal;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $( #[doc = $help] pub $field: $ty, )*
        }

        impl $name {
            /// The options' specs, in canonical-name order.
            pub const SPECS: &'static [$crate::transport::arm::OptionSpec] = &[
                $( $crate::transport::arm::OptionSpec {
                    key: stringify!($field),
                    kind: $kind,
                    default: $default,
                    token: $token,
                    help: $help,
                }, )*
            ];

            /// The options of `arm`, typed.
            pub fn of(arm: &$crate::transport::arm::Arm) -> $crate::Result<Self> {
                Ok(Self { $( $field: arm.typed(stringify!($field))?, )* })
            }

            /// The built-in defaults, parsed from the specs. Every family's test checks that they
            /// parse and equal the options of the family's plain arm.
            pub fn defaults() -> Self {
                Self { $(
                    $field: <$ty as $crate::transport::arm::OptionValue>::from_text($default)
                        .expect(concat!("the default of `", stringify!($field), "` fits its field")),
                )* }
            }
        }
    };
}
pub(crate) use family_options;

pub(super) fn allowed_keys(family: &Family) -> String {
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

pub(super) fn codec_of_token(token: &str) -> Option<Codec> {
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

/// Results store an arm by its canonical name (the resolved options are stored beside it; reading
/// one back parses the name against the registry, in [`super::registry`]).
impl Serialize for Arm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

/// Option values by key, as text (`"2"`, `"true"`).
pub type OptionValues = BTreeMap<String, String>;
