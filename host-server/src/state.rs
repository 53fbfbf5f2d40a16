//! Shared application state: the stores, chosen once at start-up, and settings.

use std::{ops::Deref, sync::Arc};

use crate::{events::EventStore, meta::MetaStore, secrets::Secret, usage::UsageRecorder};

/// Cheap to clone: every handler gets one.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

/// What the server runs on.
pub struct App {
    /// Metadata store.
    pub meta: Arc<dyn MetaStore>,
    /// Events store.
    pub events: Arc<dyn EventStore>,
    /// Signs embed tokens.
    pub signing_secret: Secret,
    /// Base URL browsers use, without a trailing slash.
    pub public_url: String,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Buffered usage counters.
    pub usage: UsageRecorder,
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
