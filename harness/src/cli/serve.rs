//! `paybench serve <transport>`: runs one transport's server (or broker worker) alone, for
//! `paybench run --target ADDR --server-pid PID` from another process or host, and for the
//! validation peers (wrk, h2load). Runs until Ctrl-C or SIGTERM.
//!
//! Hidden `--dump-bodies DIR` writes the request bodies the suite sends (JSON, protobuf, and
//! gRPC-framed protobuf/JSON) so external generators send the same bytes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use paybench::codec::Codec;
use paybench::endpoint::redact;
use paybench::measure::cpu::SERVER_THREAD_PREFIX;
use paybench::payload::{self, Profile, DEFAULT_SEED};
use paybench::payment::PaymentService;
use paybench::transport::registry::Resolve;
use paybench::transport::{self, ArmRequest, ServerConfig};

use super::edge::ArmEnv;
use paybench::load::placement::{self as pinning, CpuList};

/// Arguments of `paybench serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The arm whose server or worker to run, by name (`grpc`, `rest-h2`, `amqp-json`, ...).
    #[arg(required_unless_present = "dump_bodies")]
    transport: Option<String>,
    /// Address to listen on (direct arms).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: std::net::SocketAddr,
    /// Server runtime threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Pin server threads to these CPUs.
    #[arg(long)]
    cpus: Option<CpuList>,
    /// Simulated service time per call, microseconds.
    #[arg(long, default_value_t = 0)]
    service_time_us: u64,
    /// CPU work per call, microseconds: the server thread spins this long, so the server has a
    /// known capacity of about threads / busy time and is the bottleneck under load.
    #[arg(long, default_value_t = 0)]
    service_busy_us: u64,
    #[command(flatten)]
    arm_env: ArmEnv,
    /// Write request bodies for every profile into DIR and exit.
    #[arg(long, hide = true)]
    dump_bodies: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.dump_bodies {
        dump_bodies(dir)?;
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.transport.context("a transport is required")?;
    let arm = ArmRequest::Name(name).resolve(&args.arm_env.settings()?, "paybench serve")?;
    let rt = pinning::runtime(SERVER_THREAD_PREFIX, args.threads, args.cpus.clone())?;
    let broker_url = match arm.broker() {
        Some(broker) => args.arm_env.endpoints()?.get(broker).cloned(),
        None => None,
    };
    let config = ServerConfig {
        bind: args.bind,
        service: PaymentService::with_service_time(Duration::from_micros(args.service_time_us))
            .with_busy_time(Duration::from_micros(args.service_busy_us)),
        broker_url,
        namespace: args.arm_env.namespace()?,
        ..ServerConfig::default()
    };
    rt.block_on(async {
        let server = transport::serve(&arm, &config).await?;
        // One line on stdout, machine-readable, so scripts can pick up the address.
        println!("serving {arm} on {} pid {}", redact(server.endpoint()), std::process::id());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        server.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn dump_bodies(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for profile in Profile::ALL {
        let req = payload::generate(profile, DEFAULT_SEED, 0);
        for codec in [Codec::Protobuf, Codec::Json] {
            let body = codec.encode_request(&req)?;
            let ext = if codec == Codec::Json { "json" } else { "pb" };
            write(&dir.join(format!("{profile}.{ext}")), &body)?;
            write(&dir.join(format!("{profile}.grpc-{ext}")), &paybench::codec::grpc::wire_message(&body))?;
        }
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))
}
