//! Known answer for the JSON mapping's fairness: writing a request as JSON allocates nothing
//! beyond the output buffer, as a plain `#[derive(Serialize)]` with `rename_all` would not. The
//! enum and timestamp adapters (`codec::json`) once allocated a `String` per value (the `numeric`
//! request carries 60 enums and 60 timestamps), which timed this repository's mapping rather than
//! serde_json. A counting global allocator makes the count exact, so the test cannot pass by luck.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use paybench::payload::{self, Profile};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn writing_a_request_as_json_allocates_only_its_output() {
    for profile in [Profile::Small, Profile::Typical, Profile::Numeric, Profile::Nested] {
        let request = payload::generate(profile, payload::DEFAULT_SEED, 0);
        let response = paybench::payment::process(&request).unwrap();
        let mut out = Vec::with_capacity(4 << 20);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        serde_json::to_writer(&mut out, &request).unwrap();
        serde_json::to_writer(&mut out, &response).unwrap();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert!(!out.is_empty());
        assert_eq!(allocations, 0, "{profile}: {allocations} allocations writing {} bytes of JSON", out.len());
    }
}
