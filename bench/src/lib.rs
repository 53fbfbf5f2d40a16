//! What the benchmark commands share, so each figure is sampled and computed one way: /proc
//! sampling (`machine`), percentiles and ratios (`stats`), and the loopback HTTP client (`http`).
//! The commands themselves are in `src/bin/`; they depend on the server crate, never the reverse.
#![allow(clippy::disallowed_methods, clippy::expect_used, clippy::unwrap_used)]

pub mod http;
pub mod machine;
pub mod stats;
