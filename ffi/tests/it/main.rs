//! Integration tests of the C ABI, calling the exported functions as C would.

mod header;
