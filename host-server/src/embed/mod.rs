//! Signed embed sessions as use cases: tokens (`token`), the permissions every embed query is
//! held to (`permissions`), minting, listing and revoking sessions (`sessions`), what the
//! runtime may read with a token (`data`) and export (`export`), and the served page's
//! framing (`page`).
//!
//! The tenant, org, environment, dashboard and permissions come only from the token; nothing in
//! a request can widen them.

pub mod data;
pub mod export;
pub mod page;
pub mod permissions;
pub mod sessions;
pub mod token;

pub use token::{AUDIENCE, EmbedClaims, ISSUER, LEEWAY_SECS, sign, verify};
