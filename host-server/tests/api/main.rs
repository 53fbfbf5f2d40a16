//! HTTP integration tests of ingest and query (issue 2). Each test starts a real server, in this
//! process on `127.0.0.1:0` or as the `emban` binary, over its own temporary data dir (real
//! SQLite and DuckDB files), and talks to it over HTTP only, as a customer's backend would.
// A failed expectation in a test is a test failure, not a server panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod abuse;
mod adhoc_limits;
mod auth;
mod common;
mod dedup;
mod durability;
mod events;
mod journal;
mod keys;
mod model;
mod query;
mod render;
mod rollup;
mod usage;
