//! Integration tests of the C ABI, calling the exported functions as C would: the committed
//! header, parity with core over the golden corpus on every door (verdicts and alert
//! documents), tuning with the example exceptions file, zero allocation on the match
//! paths, and the correlation session against core's on the recordings. One test binary (so
//! one link) holds them all.

mod alerts;
mod alloc;
mod common;
mod golden;
mod header;
mod session;
mod tuning;
