//! `encode/{codec}/{profile}` and `decode/{codec}/{profile}`: body encoding speed, with
//! `Throughput::Bytes` set to that codec's body size so criterion also prints MB/s.
//! Each bench first checks that decoding its bytes gives back the original request. Every
//! profile, the shapes (`numeric`, `nested`) included: this is where they differ most.

use bench_support::request;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use paybench::codec::{Codec, ALL_CODECS};
use paybench::payload::Profile;
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    for (direction, decode) in [("encode", false), ("decode", true)] {
        let mut group = c.benchmark_group(direction);
        for codec in ALL_CODECS {
            for profile in Profile::ALL {
                let req = request(profile);
                let bytes = codec.encode_request(&req).expect("encode");
                assert_eq!(codec.decode_request(&bytes).expect("decode"), req, "{codec} round trip");
                group.throughput(Throughput::Bytes(bytes.len() as u64));
                let id = BenchmarkId::new(codec.name(), profile);
                if decode {
                    group.bench_function(id, |b| b.iter(|| codec.decode_request(black_box(&bytes))));
                } else {
                    group.bench_function(id, |b| b.iter(|| encode(codec, black_box(&req))));
                }
            }
        }
        group.finish();
    }
}

fn encode(codec: Codec, req: &paybench::pb::PaymentRequest) -> Vec<u8> {
    codec.encode_request(req).expect("encode")
}

criterion_group!(benches, codec);
criterion_main!(benches);
