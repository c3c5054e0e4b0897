//! The correlation state's bytes per host and per pending event (from the sizes of its item
//! types, as a scan's session holds them), at the default limits.
//!
//! `cargo run --release -p dcom-detect-core --example state_size`
use dcom_detect_core::correlate::{Correlator, Limits, Mark};

fn main() {
    let limits = Limits::default();
    println!(
        "correlation state (extended profile), default limits: {} hosts, {} pending per kind, reorder buffer {}",
        limits.hosts,
        limits.pending,
        limits.pending * 4
    );
    for (part, bytes) in Correlator::<Mark>::state_bytes(&limits) {
        println!("{part:<30} {bytes:>12} bytes");
    }
}
