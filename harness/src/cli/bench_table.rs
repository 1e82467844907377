//! `paybench bench-table`: tables generated from criterion's saved estimates.
//!
//! - Unloaded latency per transport (criterion's median of sample means, `latency/*`) as a ratio
//!   to the `tcp` floor measured in the same run, and `tcp` against a blocking socket ping-pong.
//! - Calls/s at N = 1, 16, 128 concurrent calls (`throughput-n*`).
//! - Codec speed (`encode/*`, `decode/*`) with JSON/protobuf ratios, and body sizes.
//!
//! The README's figures are this command's output, pasted with the command that made them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use paybench::codec::{Codec, ALL_CODECS};
use paybench::criterion_data::{self, Estimate};
use paybench::payload::{generate, Profile, DEFAULT_SEED};
use paybench::transport::registry::{self, claim};

/// Arguments of `paybench bench-table`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// criterion's output directory.
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// Profile for the latency and throughput tables: small, typical or large (those benches time
    /// the sizes only; the codec table covers every profile, shapes included).
    #[arg(long, default_value = "typical")]
    profile: Profile,
    /// criterion baseline to read (`new` is the latest run).
    #[arg(long, default_value = "new")]
    baseline: String,
}

/// `grpc` and `rest` target: at most this many times the `tcp` floor.
const HTTP_ARM_TARGET_X: f64 = 2.0;
/// `tcp` target: at most this many times the blocking-socket ping-pong.
const TCP_TARGET_X: f64 = 1.5;

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.criterion_dir;
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: no criterion results; run `harness/scripts/bench.sh` (or `cargo bench`) first",
            dir.display()
        );
    }
    if Profile::SIZES.contains(&args.profile) {
        latency_table(dir, args.profile, &args.baseline)?;
        throughput_table(dir, args.profile, &args.baseline)?;
    } else {
        let sizes: Vec<&str> = Profile::SIZES.iter().map(|p| p.name()).collect();
        println!(
            "(`{}` is a shape: the latency and throughput benches time {} only; its codec figures are below)\n",
            args.profile,
            sizes.join(", ")
        );
    }
    codec_table(dir, &args.baseline)?;
    Ok(ExitCode::SUCCESS)
}

fn us(ns: f64) -> String {
    format!("{:.1}", ns / 1_000.0)
}

fn latency_table(dir: &Path, profile: Profile, baseline: &str) -> anyhow::Result<()> {
    let profile_name = profile.name();
    let read = |function: &str| criterion_data::read(dir, "latency", function, profile_name, baseline);
    let Some(tcp) = read(claim::NETWORK_FLOOR)? else {
        println!("(no latency/tcp/{profile_name} estimate: run `cargo bench --bench latency` first)\n");
        return Ok(());
    };
    let pingpong = read("socket-pingpong")?;
    println!("### Unloaded latency, `{profile_name}` profile (one call in flight)\n");
    println!("| transport | p50 µs (95% CI) | × tcp floor | target | status |");
    println!("|---|---:|---:|---|---|");
    if let Some(pp) = pingpong {
        println!(
            "| socket-pingpong | {} ({}–{}) | {:.2}x | | |",
            us(pp.median_ns),
            us(pp.median_lower_ns),
            us(pp.median_upper_ns),
            pp.median_ns / tcp.median_ns
        );
    }
    for arm in registry::standard_arms() {
        let Some(estimate) = read(arm.name())? else { continue };
        let ratio = estimate.median_ns / tcp.median_ns;
        let (target, status) = match (arm.name(), pingpong) {
            (claim::NETWORK_FLOOR, Some(pp)) => {
                let x = estimate.median_ns / pp.median_ns;
                (format!("≤ {TCP_TARGET_X}x ping-pong"), verdict(x, TCP_TARGET_X, "ping-pong"))
            }
            (claim::NETWORK_FLOOR, None) => (String::new(), "no ping-pong run".to_owned()),
            (claim::GRPC | claim::REST, _) => (
                format!("≤ {HTTP_ARM_TARGET_X}x {}", claim::NETWORK_FLOOR),
                verdict(ratio, HTTP_ARM_TARGET_X, claim::NETWORK_FLOOR),
            ),
            _ => (String::new(), String::new()),
        };
        println!(
            "| {} | {} ({}–{}) | {ratio:.2}x | {target} | {status} |",
            arm.name(),
            us(estimate.median_ns),
            us(estimate.median_lower_ns),
            us(estimate.median_upper_ns),
        );
    }
    println!();
    Ok(())
}

fn verdict(x: f64, target: f64, floor: &str) -> String {
    if x <= target {
        format!("met ({x:.2}x {floor})")
    } else {
        format!("missed ({x:.2}x {floor})")
    }
}

fn throughput_table(dir: &Path, profile: Profile, baseline: &str) -> anyhow::Result<()> {
    let batches = [1u32, 16, 128];
    let mut rows = Vec::new();
    for arm in registry::standard_arms() {
        let mut cells = Vec::new();
        for n in batches {
            let estimate =
                criterion_data::read(dir, &format!("throughput-n{n}"), arm.name(), profile.name(), baseline)?;
            cells.push(estimate.map(|e: Estimate| f64::from(n) / (e.median_ns / 1e9)));
        }
        if cells.iter().any(Option::is_some) {
            rows.push((arm.name().to_owned(), cells));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    println!("### Closed-loop batches, `{}` profile: calls/s with N calls in flight\n", profile.name());
    println!("| transport | N=1 | N=16 | N=128 |");
    println!("|---|---:|---:|---:|");
    for (name, cells) in rows {
        let text: Vec<String> =
            cells.iter().map(|c| c.map_or("–".to_owned(), |calls_per_s| format!("{calls_per_s:.0}"))).collect();
        println!("| {} | {} |", name, text.join(" | "));
    }
    println!();
    Ok(())
}

fn codec_table(dir: &Path, baseline: &str) -> anyhow::Result<()> {
    let mut printed_header = false;
    for profile in Profile::ALL {
        let req = generate(profile, DEFAULT_SEED, 0);
        let mut times = Vec::new();
        for direction in ["encode", "decode"] {
            for codec in ALL_CODECS {
                times.push(criterion_data::read(dir, direction, codec.name(), profile.name(), baseline)?);
            }
        }
        let [Some(pe), Some(je), Some(pd), Some(jd)] = times[..] else { continue };
        if !printed_header {
            println!("### Codec speed (request message): median µs per message, JSON/protobuf ratios\n");
            println!("| profile | protobuf B | JSON B | size JSON/pb | encode pb µs | encode JSON µs | encode JSON/pb | decode pb µs | decode JSON µs | decode JSON/pb | pb encode MB/s | JSON encode MB/s |");
            println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            printed_header = true;
        }
        let pb_bytes = Codec::Protobuf.encode_request(&req)?.len() as f64;
        let json_bytes = Codec::Json.encode_request(&req)?.len() as f64;
        let mb_per_s = |bytes: f64, e: Estimate| bytes / (e.median_ns / 1e9) / 1e6;
        println!(
            "| {} | {pb_bytes} | {json_bytes} | {:.2}x | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x | {:.0} | {:.0} |",
            profile.name(),
            json_bytes / pb_bytes,
            pe.median_ns / 1e3,
            je.median_ns / 1e3,
            je.median_ns / pe.median_ns,
            pd.median_ns / 1e3,
            jd.median_ns / 1e3,
            jd.median_ns / pd.median_ns,
            mb_per_s(pb_bytes, pe),
            mb_per_s(json_bytes, je),
        );
    }
    if printed_header {
        println!();
    }
    Ok(())
}
