//! [`TenantClient`]: a handle confined to one tenant, like the Node SDK's `forTenant`.

use contract::{
    dashboard::WidgetData,
    discover::DiscoverResponse,
    embed::{CreateEmbedSessionRequest, CreateEmbedSessionResponse},
    events::{IngestEvent, IngestResponse},
    query::QueryResponse,
};

use crate::{
    client::{Client, EmbedSessionInfo, PreviewRequest, QueryParams, complete},
    error::Error,
    queue::FlushResult,
};

impl Client {
    /// A handle confined to one tenant (see [`TenantClient`]); cheap, make one per request.
    pub fn for_tenant(&self, tenant_id: impl Into<String>) -> Result<TenantClient, Error> {
        TenantClient::new(self.clone(), tenant_id.into())
    }
}

/// A handle confined to one tenant, from [`Client::for_tenant`]: its events are stamped with the
/// tenant (an event naming another is refused before anything is sent), and its queries,
/// previews, discovery and embed sessions cover that tenant only. It shares its client's queue
/// and connections.
///
/// ```no_run
/// # async fn run(emban: emban_sdk::Client) -> Result<(), emban_sdk::Error> {
/// use emban_sdk::contract::{embed::CreateEmbedSessionRequest, events::IngestEvent};
///
/// let acme = emban.for_tenant("acme")?;
/// acme.track(IngestEvent { event_name: "report.viewed".into(), ..Default::default() })?;
/// let session = acme
///     .create_embed_session(CreateEmbedSessionRequest {
///         tenant_id: String::new(), // filled in: the handle's tenant
///         dashboard_id: "8b0c…".into(),
///         expires_in: None,
///         permissions: Default::default(),
///         allowed_origins: vec![],
///         locale: None,
///     })
///     .await?;
/// println!("{}", session.embed_url);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TenantClient {
    client: Client,
    tenant_id: String,
}

impl TenantClient {
    pub(crate) fn new(client: Client, tenant_id: String) -> Result<Self, Error> {
        // The server's rule, from the contract crate.
        if let Err(why) = contract::events::check_tenant_id(&tenant_id) {
            return Err(Error::local("tenant_id", "invalid_request", format!("tenant_id: {why}")));
        }
        Ok(TenantClient { client, tenant_id })
    }

    /// The tenant every call is confined to.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The unscoped client (server-trusted: use deliberately).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `given` when it is empty (filled in) or this tenant; a `tenant_mismatch` refusal otherwise.
    fn confine(&self, given: &str, field: &str) -> Result<String, Error> {
        if !given.is_empty() && given != self.tenant_id {
            return Err(Error::local(
                field,
                "tenant_mismatch",
                format!(
                    "{field}: {given:?} is another tenant; this handle is confined to {:?}",
                    self.tenant_id
                ),
            ));
        }
        Ok(self.tenant_id.clone())
    }

    /// [`Client::ingest`] with every event stamped with this tenant.
    pub async fn ingest(&self, events: Vec<IngestEvent>) -> Result<IngestResponse, Error> {
        let events = events
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                let field = format!("events[{i}]");
                e.tenant_id = self.confine(&e.tenant_id, &format!("{field}.tenant_id"))?;
                complete(e, &field, false)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client.ingest_complete(events).await
    }

    /// [`Client::track`] for this tenant.
    pub fn track(&self, mut event: IngestEvent) -> Result<(), Error> {
        event.tenant_id = self.confine(&event.tenant_id, "event.tenant_id")?;
        self.client.track_complete(complete(event, "event", true)?)
    }

    /// Flushes the shared queue.
    pub async fn flush(&self) -> FlushResult {
        self.client.flush().await
    }

    /// A query over this tenant's events (`params.tenant_id` may be left empty).
    pub async fn query(&self, params: &QueryParams) -> Result<QueryResponse, Error> {
        let mut params = params.clone();
        params.tenant_id = self.confine(&params.tenant_id, "tenant_id")?;
        self.client.query(&params).await
    }

    /// An embed session bound to this tenant (`tenant_id` may be left empty).
    pub async fn create_embed_session(
        &self,
        mut request: CreateEmbedSessionRequest,
    ) -> Result<CreateEmbedSessionResponse, Error> {
        request.tenant_id = self.confine(&request.tenant_id, "tenant_id")?;
        self.client.create_embed_session(&request).await
    }

    /// This tenant's active embed sessions.
    pub async fn list_embed_sessions(&self) -> Result<Vec<EmbedSessionInfo>, Error> {
        let mut sessions = self.client.list_embed_sessions().await?;
        sessions.retain(|s| s.tenant_id.as_deref() == Some(&self.tenant_id));
        Ok(sessions)
    }

    /// A widget preview over this tenant's events.
    pub async fn preview_widget(&self, mut request: PreviewRequest) -> Result<WidgetData, Error> {
        request.tenant_id = self.confine(&request.tenant_id, "tenant_id")?;
        self.client.preview_widget(&request).await
    }

    /// What this tenant's events hold.
    pub async fn discover(&self) -> Result<DiscoverResponse, Error> {
        self.client.discover(Some(&self.tenant_id)).await
    }
}
