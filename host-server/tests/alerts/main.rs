//! Integration tests of alerts, scheduled reports and webhook delivery (issue 16): real servers
//! on loopback over temporary data dirs, on a frozen clock the tests advance; a real webhook
//! receiver whose signatures are checked with an independent HMAC, and one in Python that checks them
//! with PyPI's `standardwebhooks`; Debian's aiosmtpd for mail.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod crud;
mod delivery;
mod firing;
mod fixture;
mod render;
mod restart;
mod ssrf;
mod verified;
