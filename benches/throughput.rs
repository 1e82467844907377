//! `throughput-n{N}/{transport}/{profile}`: a batch of N concurrent calls through one client,
//! N = 1, 16, 128, timed until the last reply. Criterion's throughput line reads as calls/s
//! (`Throughput::Elements(N)`). The batch is a closed loop: it shows what the arm carries with N
//! calls in flight, not an arrival-rate view (that is `paybench run`'s open loop). Profiles are
//! the sizes only (`Profile::SIZES`), for the reason `benches/latency.rs` gives.

use bench_support::{arms, check, client_runtime, criterion_config, request, start_arm, ServerRuntime};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use futures::future::try_join_all;
use paybench::payload::Profile;
use paybench::transport::Transport;

const BATCH_SIZES: [usize; 3] = [1, 16, 128];

fn throughput(c: &mut Criterion) {
    let servers = ServerRuntime::new();
    let client_rt = client_runtime();
    let arms: Vec<_> = arms().into_iter().map(|(spec, url)| start_arm(&servers, &client_rt, spec, url)).collect();
    for n in BATCH_SIZES {
        let mut group = c.benchmark_group(format!("throughput-n{n}"));
        group.throughput(Throughput::Elements(n as u64));
        for arm in &arms {
            group.sample_size(if arm.arm.broker().is_some() { 10 } else { 30 });
            for profile in Profile::SIZES {
                let req = request(profile);
                // One full batch checked before timing: every reply must match its request.
                let replies = client_rt
                    .block_on(try_join_all((0..n).map(|_| arm.client.call(req.clone()))))
                    .unwrap_or_else(|e| panic!("{}/{profile}: batch failed: {e}", arm.arm));
                for reply in &replies {
                    check(&req, &reply.payment_id, reply.fee_minor);
                }
                group.bench_function(BenchmarkId::new(arm.arm.name(), profile), |b| {
                    b.to_async(&client_rt).iter_batched(
                        || vec![req.clone(); n],
                        |batch| try_join_all(batch.into_iter().map(|r| arm.client.call(r))),
                        BatchSize::SmallInput,
                    )
                });
            }
        }
        group.finish();
    }
    for arm in arms {
        servers.stop(arm);
    }
}

criterion_group! {
    name = benches;
    config = criterion_config();
    targets = throughput
}
criterion_main!(benches);
