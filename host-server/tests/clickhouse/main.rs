//! ClickHouse backend tests against a real ClickHouse server (the Debian package) that each test
//! starts on free loopback ports with a temporary data dir and stops afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod dedup;
mod escapes;
mod migrations;
mod org_deletion;
mod parity;
mod server;
mod writer;
