//! Integration tests of the C ABI, calling the exported functions as C would: the committed
//! header, parity with core over the golden corpus on every door, and zero allocation on the
//! match paths. One test binary (so one link) holds them all.

mod alloc;
mod common;
mod golden;
mod header;
