//! `latency/{transport}/{profile}`: one call in flight, unloaded. Criterion's median of per-sample
//! means is what `paybench bench-table` reports as p50 and divides by the `tcp` floor.
//! Profiles are the sizes only (`Profile::SIZES`): every arm times every profile here, so each
//! profile adds a timed pass over every arm to `cargo bench`; the shapes' encoding is timed in
//! `benches/codec.rs`, and every arm carries one call of every profile, shapes included, before
//! timing starts.
//!
//! `latency/socket-pingpong/{profile}` is the physical floor: blocking std sockets with
//! TCP_NODELAY, one thread each side, echoing the same protobuf request and response bytes the
//! `tcp` arm sends. The `tcp` arm's overhead above it is what async I/O and framing cost.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use bench_support::{arms, client_runtime, criterion_config, request, start_arm, ServerRuntime};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use paybench::codec::Codec;
use paybench::payload::Profile;
use paybench::payment::process;
use paybench::transport::Transport;

fn latency(c: &mut Criterion) {
    let servers = ServerRuntime::new();
    let client_rt = client_runtime();
    let mut group = c.benchmark_group("latency");
    for (spec, broker_url) in arms() {
        let arm = start_arm(&servers, &client_rt, spec, broker_url);
        if arm.arm.broker().is_some() {
            // A broker round trip is milliseconds (Kafka: a few); fewer samples keep the run short.
            group.sample_size(10);
        }
        for profile in Profile::SIZES {
            let req = request(profile);
            group.bench_function(BenchmarkId::new(arm.arm.name(), profile), |b| {
                b.to_async(&client_rt).iter_batched(|| req.clone(), |r| arm.client.call(r), BatchSize::SmallInput)
            });
        }
        group.sample_size(50);
        servers.stop(arm);
    }
    for profile in Profile::SIZES {
        socket_pingpong(&mut group, profile);
    }
    group.finish();
}

/// Blocking ping-pong of the `tcp` arm's exact bytes: 4-byte length + 9-byte header + body.
fn socket_pingpong(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, profile: Profile) {
    let req = request(profile);
    let request_frame = framed(&Codec::Protobuf.encode_request(&req).expect("encode"));
    let response_frame = framed(&Codec::Protobuf.encode_response(&process(&req).expect("valid")).expect("encode"));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let request_len = request_frame.len();
    let echo = response_frame.clone();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut buf = vec![0u8; request_len];
        while stream.read_exact(&mut buf).is_ok() {
            if stream.write_all(&echo).is_err() {
                break;
            }
        }
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; response_frame.len()];
    // Checked once before timing: the peer echoes exactly the `tcp` arm's response frame.
    stream.write_all(&request_frame).expect("write");
    stream.read_exact(&mut buf).expect("read");
    assert_eq!(buf, response_frame, "ping-pong echoed the wrong bytes");
    group.bench_function(BenchmarkId::new("socket-pingpong", profile), |b| {
        b.iter(|| {
            stream.write_all(&request_frame).expect("write");
            stream.read_exact(&mut buf).expect("read");
        })
    });
    drop(stream);
    server.join().expect("ping-pong server panicked");
}

fn framed(body: &[u8]) -> Vec<u8> {
    paybench::transport::tcp::wire_frame(0, paybench::transport::tcp::STATUS_OK, body)
}

criterion_group! {
    name = benches;
    config = criterion_config();
    targets = latency
}
criterion_main!(benches);
