//! What the benchmark commands share, so each figure is sampled and computed one way: /proc
//! sampling (`machine`), percentiles and ratios (`stats`), and the loopback HTTP client (`http`).
//! The commands themselves are in `src/bin/`; this crate depends on the server, never the reverse.

pub mod http;
pub mod machine;
pub mod stats;
