//! HTTP integration tests of dashboards, widgets, publishing, signed embed sessions and the embed
//! data API (issue 3). Each test starts a real server in this process over its own temporary data
//! dir and talks to it over HTTP only; permissions are probed the way an attacker would.
#![allow(clippy::disallowed_methods, clippy::expect_used, clippy::unwrap_used)]

mod dashboards;
mod discover;
mod first_paint;
mod fixture;
mod flows;
mod jwt;
mod permissions;
mod runtime_data;
mod sessions;
mod settings;
mod team;
mod tenants;
