//! Delivery to the outside world: mail now (`email`); signed webhooks and their SSRF guard come
//! with alerts and reports.

pub mod email;
