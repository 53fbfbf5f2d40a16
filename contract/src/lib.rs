//! Serde types shared by the Emban server, the embed runtime and the embed helper.
//!
//! Everything here is plain data: it builds for `wasm32-unknown-unknown` and native targets alike,
//! and its JSON is the wire format documented in `docs/api.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod csv;
pub mod dashboard;
pub mod discover;
pub mod embed;
pub mod error;
pub mod events;
pub mod messages;
pub mod origins;
pub mod query;
pub mod ranges;
pub mod settings;

pub use error::ErrorBody;
