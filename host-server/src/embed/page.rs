//! The embed page as served: its framing (the org's current list and the session's), its
//! Content-Security-Policy, and the framing written into the page for the runtime.

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use sha2::{Digest, Sha256};

use contract::embed::{EmbedDashboardResponse, EmbedQueryRequest};
use serde_json::{Value, json};

use crate::{
    embed::{EmbedClaims, data, permissions::initial_filters, token::page_session, verify},
    settings::Framing,
    state::AppState,
};

/// Longest token the page reads from its URL.
const MAX_PAGE_TOKEN_BYTES: usize = 16 * 1024;

/// Who may frame the page of `dashboard_id` opened with `token`. Without a session of ours the
/// page shows only an error, and only its own origin may frame it. With one, the org's current
/// list and the session's decide (see `settings::Framing`).
pub async fn page_framing(state: &AppState, token: Option<&str>, dashboard_id: &str) -> Framing {
    let session = token
        .filter(|t| !t.is_empty() && t.len() <= MAX_PAGE_TOKEN_BYTES)
        .and_then(|t| page_session(&state.signing_secret, t, dashboard_id));
    match &session {
        None => Framing::OwnOrigin,
        Some(claims) => match state.framing.org_origins(&*state.org_settings, claims.org).await {
            Ok(org) => Framing::of(&org, &claims.origins),
            Err(e) => {
                tracing::error!(error = %e, "reading the org's framing list");
                Framing::Nobody
            }
        },
    }
}

/// The page's `Content-Security-Policy`: its framing, and nothing loaded or run but the
/// runtime's own assets. Trunk's loader is an inline module script, allowed by its hash
/// (computed from the built page, so a rebuild cannot drift); `'wasm-unsafe-eval'` lets the
/// browser compile the wasm. Style *elements* only from the hashed stylesheet; style
/// *attributes* are allowed (`style-src-attr`): the views position grid cells and size chart
/// marks with them, and an attribute cannot load anything or run script.
pub fn page_csp(html: &str, framing: &Framing) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| format!(" 'sha256-{}'", B64.encode(Sha256::digest(script.as_bytes()))))
        .collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         style-src-attr 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data: blob:; font-src 'self'; base-uri 'none'; \
         object-src 'none'; form-action 'none'; {}",
        framing.csp()
    )
}

/// The text of each `<script>` element without a `src`, as the browser hashes it.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, body) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        Some(body.split_once("</script>")?.0)
    })
}

/// Escapes text for an HTML attribute value.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page with its framing in `<meta name="emban-allowed-origins">` (`*`, the patterns, or
/// empty for its own origin only), which the runtime uses to accept messages and address events.
pub fn page_with_framing(html: &str, framing: &Framing) -> String {
    let meta =
        format!("<meta name=\"emban-allowed-origins\" content=\"{}\">", attribute(&framing.meta_content()));
    match html.find("</head>") {
        Some(at) => format!("{}{meta}\n{}", &html[..at], &html[at..]),
        None => format!("{meta}\n{html}"),
    }
}

/// How many widget queries one first-paint page runs at once.
pub const FIRST_PAINT_QUERIES: usize = 4;

/// The `id` of the `<script type="application/json">` carrying the first paint's dashboard
/// (`{"dashboard": <GET /v1/embed/dashboard>}`), in the page's head.
pub const INITIAL_DATA_ID: &str = "emban-initial";

/// The `id` of the `<script type="application/json">` carrying the widgets' first answers
/// (`[{"request": "<JSON text of the POST /v1/embed/query body>", "data": <its answer>}…]`), at
/// the end of the page's body.
pub const INITIAL_ANSWERS_ID: &str = "emban-answers";

/// A live session's first paint, as far as it is known before the widgets' queries run.
pub struct FirstPaint {
    claims: std::sync::Arc<EmbedClaims>,
    dashboard: EmbedDashboardResponse,
}

impl FirstPaint {
    /// What `GET /v1/embed/dashboard` would answer, as the head's `emban-initial` element.
    pub fn dashboard_script(&self) -> String {
        data_script(INITIAL_DATA_ID, &json!({ "dashboard": self.dashboard }))
    }

    /// The widgets' first answers: one per visible widget under the initial filters and the
    /// session's permissions, exactly the request the runtime sends first (it uses an answer only
    /// when its request is equal), run concurrently (at most [`FIRST_PAINT_QUERIES`] at once: a
    /// dashboard of many widgets must not flood the event store on every page view) and listed
    /// in the dashboard's widget order. A widget whose query fails is left out: the runtime
    /// fetches it and shows the error as usual.
    pub async fn answers(&self, state: &AppState) -> Vec<Value> {
        if !self.dashboard.published {
            return Vec::new();
        }
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(FIRST_PAINT_QUERIES));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, widget) in self.dashboard.dashboard.widgets.iter().enumerate() {
            let request = EmbedQueryRequest {
                widget_id: widget.id.clone(),
                filters: initial_filters(&self.claims.permissions),
                drill: None,
                dashboard_id: Some(self.dashboard.dashboard.id.clone()),
            };
            // The request as the JSON text the runtime would POST (fields in declaration order;
            // a `Value` would sort them): the runtime matches it as text.
            let Ok(text) = serde_json::to_string(&request) else { continue };
            let (state, claims, limit) = (state.clone(), self.claims.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.ok()?;
                match data::query(&state, &claims, &request).await {
                    Ok(Some(answer)) => Some((index, json!({ "request": text, "data": answer }))),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::debug!(widget = %request.widget_id, error = %e, "first answer left to the runtime");
                        None
                    }
                }
            });
        }
        let mut done = Vec::new();
        while let Some(finished) = tasks.join_next().await {
            // A task that failed (it cannot panic by design) only loses its widget's first answer.
            done.extend(finished.ok().flatten());
        }
        done.sort_by_key(|(index, _)| *index);
        done.into_iter().map(|(_, answer)| answer).collect()
    }
}

/// The first paint of `dashboard_id` opened with `token`, computed while the page is served so
/// the runtime paints in one round trip. `None` without a live, unrevoked session for this
/// dashboard (the runtime then fetches, and shows why it cannot).
pub async fn first_paint(state: &AppState, token: Option<&str>, dashboard_id: &str) -> Option<FirstPaint> {
    let token = token.filter(|t| !t.is_empty() && t.len() <= MAX_PAGE_TOKEN_BYTES)?;
    let claims = verify(&state.signing_secret, token).ok().filter(|c| c.dashboard == dashboard_id)?;
    let revoked =
        state.revocations.is_revoked(claims.org, claims.env, &claims.jti, &claims.tenant, claims.iat).await;
    if !matches!(revoked, Ok(false)) {
        return None;
    }
    let dashboard = data::dashboard(state, &claims).await.ok()?;
    Some(FirstPaint { claims: std::sync::Arc::new(claims), dashboard })
}

/// The answers' script element (`emban-answers`).
pub fn answers_script(answers: Vec<Value>) -> String {
    data_script(INITIAL_ANSWERS_ID, &Value::Array(answers))
}

/// `data` in `<script type="application/json" id="{id}">`, ending in a newline. Every `<` of the
/// JSON is written `\u003c` (the same string to `JSON.parse`), so no value can close the element
/// or open a comment; `>` and `&` likewise.
fn data_script(id: &str, data: &Value) -> String {
    let text = data.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
    format!("<script type=\"application/json\" id=\"{id}\">{text}</script>\n")
}

/// The page as streamed: what goes out at once and what follows the answers.
pub struct StreamedPage {
    /// Everything to the opening of `<body>`: the head with its preloads, the runtime's loader
    /// (made `async`, so it starts without waiting for the rest of the page) and the dashboard.
    pub head: String,
    /// Written after the answers' element: the end of the body and the document.
    pub tail: String,
}

/// Cuts the built page for streaming, with `dashboard_script` (may be empty) at the end of its
/// head. The loader, Trunk's inline module script, gets `async`: a module script otherwise runs
/// only once the whole page is parsed, which would make the runtime wait for every widget's
/// query. `<body>` goes out with the head, so the runtime always has a body to mount into.
pub fn stream_page(html: &str, dashboard_script: &str) -> StreamedPage {
    let html = html.replacen("<script type=\"module\">", "<script type=\"module\" async>", 1);
    let head_end = html.find("</head>").unwrap_or(0);
    let body_end = html.rfind("</body>").filter(|at| *at >= head_end).unwrap_or(html.len());
    let (head, body) = html.split_at(head_end);
    let (body_open, tail) = body.split_at(body_end - head_end);
    StreamedPage { head: format!("{head}{dashboard_script}{body_open}"), tail: tail.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_only_the_runtime_and_its_loader() {
        let html = "<head><script type=\"module\">\nimport init from '/a.js';\n</script>\
                    <script src=\"/b.js\"></script><script>x()</script></head>";
        let csp = page_csp(html, &Framing::Any);
        let hash = |s: &str| format!("'sha256-{}'", B64.encode(Sha256::digest(s.as_bytes())));
        assert!(csp.contains(&hash("\nimport init from '/a.js';\n")), "{csp}");
        assert!(csp.contains(&hash("x()")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2, "a script with src needs no hash: {csp}");
        assert!(csp.starts_with("default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-"));
        assert!(csp.ends_with("object-src 'none'; form-action 'none'; frame-ancestors *"), "{csp}");
        assert!(csp.contains("style-src 'self'; style-src-attr 'unsafe-inline';"), "{csp}");
        assert_eq!(csp.matches("unsafe-inline").count(), 1, "only style attributes: {csp}");
    }

    #[test]
    fn origins_go_into_the_head_escaped() {
        let html = "<html><head><title>x</title></head><body></body></html>";
        let framing = Framing::Only(vec!["https://a.example".into(), "https://*.b.example".into()]);
        let page = page_with_framing(html, &framing);
        assert!(page.contains(
            "<meta name=\"emban-allowed-origins\" content=\"https://a.example https://*.b.example\">\n</head>"
        ));
        let hostile = page_with_framing(html, &Framing::Only(vec!["\"><script>".into()]));
        assert!(hostile.contains("content=\"&quot;&gt;&lt;script&gt;\""), "{hostile}");
        assert!(page_with_framing(html, &Framing::Any).contains("content=\"*\""));
    }

    /// The page with a dashboard script and `answers` in it, whole (what the streamed page adds
    /// up to).
    fn page_with_first_paint(html: &str, dashboard_script: &str, answers: Vec<Value>) -> String {
        let page = stream_page(html, dashboard_script);
        format!("{}{}{}", page.head, answers_script(answers), page.tail)
    }

    #[test]
    fn inlined_data_cannot_leave_its_script_element() {
        let html = "<html><head><title>x</title></head><body></body></html>";
        let data = json!({ "name": "</script><script>alert(1)</script><!-- & >" });
        let page = page_with_first_paint(html, &data_script(INITIAL_DATA_ID, &data), vec![data.clone()]);
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(!page.contains("<!--"), "{page}");
        for (id, want) in [(INITIAL_DATA_ID, data.clone()), (INITIAL_ANSWERS_ID, json!([data]))] {
            let open = format!("id=\"{id}\">");
            let start = page.find(&open).unwrap() + open.len();
            let end = start + page[start..].find("</script>").unwrap();
            let back: Value = serde_json::from_str(&page[start..end]).unwrap();
            assert_eq!(back, want, "the escaped text parses back to the same value");
        }
        assert!(page.contains("</script>\n</head><body><script"), "{page}");
        assert!(page.ends_with("</script>\n</body></html>"), "{page}");
    }

    #[test]
    fn the_streamed_page_starts_the_loader_early_and_adds_up_to_the_page() {
        let html = "<html><head><script type=\"module\">init()</script></head>\n<body></body>\n</html>";
        let page = stream_page(html, "<D>");
        assert_eq!(page.head, "<html><head><script type=\"module\" async>init()</script><D></head>\n<body>");
        assert_eq!(page.tail, "</body>\n</html>");
        // The policy's hash is of the script's text, which `async` does not change.
        assert_eq!(page_csp(&page.head, &Framing::Any), page_csp(html, &Framing::Any));
        let bare = stream_page("no head", "");
        assert_eq!((bare.head.as_str(), bare.tail.as_str()), ("no head", ""), "no head: the answers go last");
    }
}
