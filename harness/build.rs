//! Generates the tonic services from `proto/payment/v1/payment.proto`, against the message types
//! `paybench-model` generates (its `build.rs` holds the JSON mapping and the OpenAPI schemas), so
//! the model crate compiles without tonic. Two services come from one contract:
//! - `payment.v1.PaymentService` with protobuf bodies (the `grpc` arm), and
//! - the same routes with a JSON codec (the `grpc-json` arm), written with tonic's manual builder
//!   because protoc only knows protobuf. Both use codecs from `crate::codec::grpc` so that a
//!   malformed body maps to INVALID_ARGUMENT and an oversized one to RESOURCE_EXHAUSTED.
//!
//! protoc comes from `protoc-bin-vendored` (a binary shipped inside the crate), so a machine needs
//! nothing beyond cargo.

use std::path::PathBuf;

/// The proto package, whose messages are `paybench_model::pb`'s.
const PACKAGE: &str = "payment.v1";

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

    let mut config = prost_build::Config::new();
    config.protoc_arg("--experimental_allow_proto3_optional");
    let descriptors = config.load_fds(&[&proto], &[&proto_root])?;
    // Every message is the model crate's: only the service code is generated here.
    tonic_prost_build::configure()
        .codec_path("crate::codec::grpc::ProtoCodec")
        .extern_path(format!(".{PACKAGE}"), "::paybench_model::pb")
        .compile_fds(descriptors)?;

    build_json_service()?;
    Ok(())
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
                .input_type("paybench_model::pb::PaymentRequest")
                .output_type("paybench_model::pb::PaymentResponse")
                .codec_path("crate::codec::grpc::JsonCodec")
                .build(),
        )
        .build();
    tonic_build::manual::Builder::new().out_dir(out_dir).compile(&[service]);
    Ok(())
}
