//! Delivery to the outside world: mail (`email`), signed webhooks (`webhook`) and the SSRF
//! guard every webhook target passes (`ssrf`).

pub mod email;
pub mod ssrf;
pub mod webhook;
