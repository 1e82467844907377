//! Generates the protobuf types and the tonic services from `proto/payment/v1/payment.proto`.
//!
//! protoc comes from `protoc-bin-vendored` (a binary shipped inside the crate), so a machine needs
//! nothing beyond cargo. Two services are generated from one contract:
//! - `payment.v1.PaymentService` with protobuf bodies (the `grpc` arm), and
//! - the same routes with a JSON codec (the `grpc-json` arm), written with tonic's manual builder
//!   because protoc only knows protobuf. Both use codecs from `crate::codec::grpc` so that a
//!   malformed body maps to INVALID_ARGUMENT and an oversized one to RESOURCE_EXHAUSTED.
//!
//! The JSON mapping (every JSON arm shares it, see `docs/rest-api.md`) is derived here from the
//! proto's descriptors, field by field, so a field added to the proto gets the same treatment
//! without anyone remembering a list, and a field type the mapping does not handle stops the build
//! with its name instead of producing JSON that disagrees with the protobuf arms:
//! - keys are protoc's `json_name` (lowerCamelCase), the proto's own snake_case name is an alias;
//! - every field may be absent or `null`, meaning its proto3 default, as on the protobuf arms;
//! - integers are read from numbers or decimal strings, enums from lowercase words, proto names
//!   or numbers, timestamps from RFC 3339 strings; unknown keys are ignored;
//! - the output keeps the hand-written REST shape: integers as numbers, enums as lowercase words,
//!   RFC 3339 timestamps, a few fields left out when empty ([`OMITTED_WHEN_EMPTY`]).
//!
//! The OpenAPI schemas (`utoipa::ToSchema`, served at `GET /openapi.json`) are derived on the same
//! generated types with `#[schema]` attributes chosen here from the same descriptors, so the
//! published contract cannot drift from the proto or from the serde attributes either.

use std::collections::BTreeSet;
use std::path::PathBuf;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};

/// The proto package whose messages get the JSON mapping.
const PACKAGE: &str = "payment.v1";

/// Derives on every message. No `deny_unknown_fields`: unknown keys are ignored, as the protobuf
/// arms ignore unknown fields, so a client built from a newer proto still gets through. (Absence
/// is `default` on each field rather than on the container: utoipa would print a container
/// default's value of every field into the schema, as the Rust value, e.g. `0` for an enum.)
const MESSAGE_ATTRIBUTES: &str = "#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]";

/// Derives on every enum: the OpenAPI schema lists the lowercase words `crate::codec::json`
/// writes (`CARD_BRAND_VISA` is the variant `Visa`, hence `visa`).
const ENUM_ATTRIBUTES: &str = "#[derive(utoipa::ToSchema)] #[schema(rename_all = \"snake_case\")]";

/// Fields paybench leaves out of its JSON output when they are empty, as a hand-written API would
/// (an output-shape choice; proto3 JSON printers leave out every default value). Every other field
/// is always written. Each path must exist in the proto, or the build stops.
///
/// Fields added after the first measurements are here as well, so that the profiles that leave
/// them empty keep their JSON bytes (`harness/tests/wire_pins.rs`), as protobuf leaves out an
/// empty field anyway.
const OMITTED_WHEN_EMPTY: &[&str] = &[
    ".payment.v1.PaymentRequest.metadata",
    ".payment.v1.PaymentRequest.usage_charges",
    ".payment.v1.PaymentRequest.bundles",
    ".payment.v1.BundleItem.components",
    ".payment.v1.Address.line2",
    ".payment.v1.PaymentResponse.decline_reason",
    ".payment.v1.PaymentResponse.authorization_code",
];

/// Where the serde adapters live (`harness/src/codec/json.rs`).
const JSON: &str = "crate::codec::json";

type BuildResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Embeds the commit the binary is built from as `PAYBENCH_GIT_COMMIT` (`+dirty` when the sources
/// it is built from differ from that commit), so a result names the code that measured it, not
/// whatever the working tree holds when the run ends. `unknown` outside a git checkout.
fn provenance() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    // The sources this package is built from; scenarios and docs are read at run time and are
    // recorded in the results themselves.
    const SOURCES: [&str; 4] = ["../harness", "../proto", "../Cargo.toml", "../Cargo.lock"];
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(commit) => {
            // No optional locks: a status that refreshed the index would itself trigger a rebuild.
            let mut status = vec!["--no-optional-locks", "status", "--porcelain", "--untracked-files=no", "--"];
            status.extend(SOURCES);
            let dirty = git(&status).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}+dirty")
            } else {
                commit
            }
        }
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=PAYBENCH_GIT_COMMIT={commit}");
    // A new commit moves HEAD or the branch it names; an edit changes the sources.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={git_dir}/{reference}");
        }
    }
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
}

fn main() -> BuildResult<()> {
    provenance();
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY (edition 2021: set_var is safe): build scripts are single-threaded.
    std::env::set_var("PROTOC", protoc);

    let proto_root = PathBuf::from("../proto");
    let proto = proto_root.join("payment/v1/payment.proto");
    println!("cargo:rerun-if-changed={}", proto.display());

    // protoc runs once: the descriptors it produces drive the attributes below, then the code.
    let mut config = prost_build::Config::new();
    config.protoc_arg("--experimental_allow_proto3_optional");
    let descriptors = config.load_fds(&[&proto], &[&proto_root])?;
    let file = descriptors
        .file
        .iter()
        .find(|f| f.package() == PACKAGE)
        .ok_or_else(|| format!("{}: no file declares package {PACKAGE}", proto.display()))?;

    let mut builder = tonic_prost_build::configure().codec_path("crate::codec::grpc::ProtoCodec");
    for message in messages(file)? {
        builder = builder.message_attribute(message.path, MESSAGE_ATTRIBUTES);
    }
    for enumeration in &file.enum_type {
        builder = builder.enum_attribute(format!(".{PACKAGE}.{}", enumeration.name()), ENUM_ATTRIBUTES);
    }
    for (path, attribute) in json_field_attributes(file)? {
        builder = builder.field_attribute(path, attribute);
    }
    builder.compile_fds(descriptors)?;

    build_json_service()?;
    Ok(())
}

/// Field attributes: JSON name and alias, the serde adapter for the field's type, output omission,
/// and the schema overrides where the Rust type is not the JSON type.
fn json_field_attributes(file: &FileDescriptorProto) -> BuildResult<Vec<(String, String)>> {
    let outputs: BTreeSet<&str> = file.service.iter().flat_map(|s| &s.method).map(|m| m.output_type()).collect();
    let messages = messages(file)?;
    let mut omitted_seen = BTreeSet::new();
    let mut attributes = Vec::new();
    for message in &messages {
        let is_output = outputs.contains(message.path.as_str());
        for field in &message.descriptor.field {
            let path = format!("{}.{}", message.path, field.name());
            let omitted = OMITTED_WHEN_EMPTY.contains(&path.as_str());
            if omitted {
                omitted_seen.insert(path.clone());
            }
            let mut attribute = field_attribute(&path, field, message.descriptor, omitted, is_output)?;
            if field.r#type() == Type::Message && reaches(&messages, field.type_name(), &message.path) {
                // A recursive contract (`BundleItem.components`): utoipa collects a schema's
                // referenced schemas by walking them, which never ends on a cycle (it panics), so
                // the walk stops at this field; the schema still refers to the type by name.
                attribute.push_str(" #[schema(no_recursion)]");
            }
            attributes.push((path, attribute));
        }
    }
    if let Some(stale) = OMITTED_WHEN_EMPTY.iter().find(|p| !omitted_seen.contains(**p)) {
        return Err(format!("build.rs: OMITTED_WHEN_EMPTY names {stale}, which the proto does not have").into());
    }
    Ok(attributes)
}

/// The attributes of one field; an error names the field when its type is not mapped.
fn field_attribute(
    path: &str,
    field: &FieldDescriptorProto,
    parent: &DescriptorProto,
    omitted: bool,
    is_output: bool,
) -> BuildResult<String> {
    let unsupported = |what: &str| format!("{path}: {what} is not handled by the JSON mapping (build.rs)");
    if field.proto3_optional() || field.oneof_index.is_some() {
        return Err(unsupported("a oneof or proto3 optional field").into());
    }
    let json_name = field.json_name();
    // `default`: an absent field is its proto3 default, as on the protobuf arms.
    let mut serde = vec![format!("rename = \"{json_name}\""), "default".to_owned()];
    if field.name() != json_name {
        serde.push(format!("alias = \"{}\"", field.name()));
    }
    let mut schema = Vec::new();
    let repeated = field.label() == Label::Repeated;
    match field.r#type() {
        Type::Message if repeated => {
            if let Some(entry) = map_entry(parent, field) {
                let string_to_string = entry.field.iter().all(|f| f.r#type() == Type::String);
                if !string_to_string {
                    return Err(unsupported("a map other than map<string, string>").into());
                }
            }
            serde.push(format!("deserialize_with = \"{JSON}::null_as_default\""));
        }
        _ if repeated => return Err(unsupported("a repeated scalar or enum").into()),
        Type::Message if field.type_name() == ".google.protobuf.Timestamp" => {
            serde.push(format!("with = \"{JSON}::timestamp\""));
            schema.push("value_type = Option<String>, format = DateTime".to_owned());
        }
        Type::Message if field.type_name().starts_with(&format!(".{PACKAGE}.")) => {
            // `Option<Message>`: serde already reads `null` and absence as `None`.
        }
        Type::Message => return Err(unsupported(&format!("the message type {}", field.type_name())).into()),
        Type::String => serde.push(format!("deserialize_with = \"{JSON}::string\"")),
        Type::Bool => serde.push(format!("deserialize_with = \"{JSON}::null_as_default\"")),
        Type::Int64
        | Type::Uint64
        | Type::Int32
        | Type::Uint32
        | Type::Sint64
        | Type::Sint32
        | Type::Fixed64
        | Type::Fixed32
        | Type::Sfixed64
        | Type::Sfixed32 => serde.push(format!("deserialize_with = \"{JSON}::integer\"")),
        Type::Enum => {
            let name = field.type_name().rsplit('.').next().unwrap_or_default();
            serde.push(format!("with = \"{JSON}::{}\"", snake_case(name)));
            schema.push(format!("value_type = {name}"));
        }
        other => return Err(unsupported(&format!("the type {}", other.as_str_name())).into()),
    }
    if omitted {
        let is_empty = match field.r#type() {
            Type::String => "String::is_empty",
            Type::Message if map_entry(parent, field).is_some() => "std::collections::HashMap::is_empty",
            Type::Message if repeated => "Vec::is_empty",
            _ => return Err(unsupported("OMITTED_WHEN_EMPTY on a field that is not a string, list or map").into()),
        };
        serde.push(format!("skip_serializing_if = \"{is_empty}\""));
    } else if is_output {
        // The server always writes it, so a client may rely on it (serde's `default` alone would
        // make the schema call it optional).
        schema.push("required = true".to_owned());
    }
    let mut attribute = format!("#[serde({})]", serde.join(", "));
    if !schema.is_empty() {
        attribute.push_str(&format!(" #[schema({})]", schema.join(", ")));
    }
    Ok(attribute)
}

/// A message of the package with its fully-qualified proto path (`.payment.v1.Card`).
struct Message<'a> {
    path: String,
    descriptor: &'a DescriptorProto,
}

/// Every top-level message of the file. Nested messages other than map entries (which prost makes
/// `HashMap`s) stop the build: prost applies a message's attributes to its nested types as well,
/// so they would get every derive twice.
fn messages(file: &FileDescriptorProto) -> BuildResult<Vec<Message<'_>>> {
    let mut out = Vec::new();
    for descriptor in &file.message_type {
        let path = format!(".{PACKAGE}.{}", descriptor.name());
        if let Some(nested) = descriptor.nested_type.iter().find(|n| !is_map_entry(n)) {
            let name = nested.name();
            return Err(format!("{path}.{name}: nested messages are not handled by the JSON mapping (build.rs)").into());
        }
        if !descriptor.enum_type.is_empty() {
            return Err(format!("{path}: nested enums are not handled by the JSON mapping (build.rs)").into());
        }
        out.push(Message { path, descriptor });
    }
    Ok(out)
}

/// Whether message `from` is `to` or contains it through its message fields, at any depth.
fn reaches(messages: &[Message<'_>], from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut pending = vec![from.to_owned()];
    while let Some(path) = pending.pop() {
        if path == to {
            return true;
        }
        if !seen.insert(path.clone()) {
            continue;
        }
        if let Some(message) = messages.iter().find(|m| m.path == path) {
            let fields = message.descriptor.field.iter().filter(|f| f.r#type() == Type::Message);
            pending.extend(fields.map(|f| f.type_name().to_owned()));
        }
    }
    false
}

/// Whether a nested type is the entry type protoc makes for a map field.
fn is_map_entry(descriptor: &DescriptorProto) -> bool {
    descriptor.options.as_ref().is_some_and(|o| o.map_entry())
}

/// The map entry type of a map field, if `field` is one.
fn map_entry<'a>(parent: &'a DescriptorProto, field: &FieldDescriptorProto) -> Option<&'a DescriptorProto> {
    let entry_name = field.type_name().rsplit('.').next()?;
    parent.nested_type.iter().find(|n| n.name() == entry_name && is_map_entry(n))
}

/// `CardBrand` -> `card_brand`: the module name of an enum's adapter in `codec/json.rs`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The `grpc-json` arm: same service and method names, JSON codec.
fn build_json_service() -> BuildResult<()> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?).join("json");
    std::fs::create_dir_all(&out_dir)?;
    let service = tonic_build::manual::Service::builder()
        .name("PaymentService")
        .package("payment.v1")
        .method(
            tonic_build::manual::Method::builder()
                .name("authorize")
                .route_name("Authorize")
                .input_type("crate::pb::PaymentRequest")
                .output_type("crate::pb::PaymentResponse")
                .codec_path("crate::codec::grpc::JsonCodec")
                .build(),
        )
        .build();
    tonic_build::manual::Builder::new().out_dir(out_dir).compile(&[service]);
    Ok(())
}
