//! Serving the embed runtime: the page at `/embed/{id}` (never cached, framed as the org's
//! settings and the session allow, which it also hands to the runtime) and the hashed assets (cached a year).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use emban_host_server::{
    RunningServer,
    config::ServeArgs,
    embed::{AUDIENCE, EmbedClaims, ISSUER, sign},
    start,
};

/// A directory removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("emban-runtime-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const INDEX: &str = "<!doctype html><html><head><title>Emban</title></head><body></body></html>";

fn fake_build(dir: &Path) {
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("embed-runtime-0123abcd.js"), "export default function init() {}").unwrap();
    std::fs::write(dir.join("embed-runtime-0123abcd_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
}

async fn server(runtime_dir: &Path, data: &Dir) -> RunningServer {
    let mut args = ServeArgs::for_data_dir(&data.0);
    args.runtime_dir = runtime_dir.to_path_buf();
    start(args).await.unwrap()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn token(server: &RunningServer, dashboard: &str, origins: &[&str], exp: i64) -> String {
    let claims = EmbedClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        org: 1,
        env: 1,
        tenant: "acme".into(),
        dashboard: dashboard.into(),
        permissions: Default::default(),
        origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        locale: None,
        iat: exp - 3600,
        exp,
        jti: "00000000-0000-0000-0000-000000000000".into(),
    };
    sign(&server.state.signing_secret, &claims).unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn the_page_is_never_cached_and_framed_as_the_session_allows() {
    let (data, dist) = (Dir::new("data"), Dir::new("dist"));
    fake_build(&dist.0);
    let server = server(&dist.0, &data).await;
    let client = reqwest::Client::new();
    let origins = ["https://app.example.com", "https://*.partner.io"];
    let cases = [
        (
            Some(token(&server, "dash_1", &origins, now() + 3600)),
            "frame-ancestors https://app.example.com https://*.partner.io",
        ),
        // An expired session still loads in its host, to say so.
        (
            Some(token(&server, "dash_1", &origins, now() - 60)),
            "frame-ancestors https://app.example.com https://*.partner.io",
        ),
        // Neither the org (it has no list) nor the session restricts framing: any parent.
        (Some(token(&server, "dash_1", &[], now() + 3600)), "frame-ancestors *"),
        // Not this dashboard's session, or not ours: the page can only show an error, and only
        // to its own origin.
        (Some(token(&server, "dash_2", &origins, now() + 3600)), "frame-ancestors 'self'"),
        (Some("not.a.token".to_owned()), "frame-ancestors 'self'"),
        (None, "frame-ancestors 'self'"),
    ];
    for (token, csp) in cases {
        let url = match &token {
            Some(t) => format!("{}/embed/dash_1?token={t}", server.url()),
            None => format!("{}/embed/dash_1", server.url()),
        };
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        let policy = header(&response, "content-security-policy");
        assert!(policy.starts_with("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'"), "{policy}");
        assert_eq!(policy.rsplit("; ").next(), Some(csp), "{token:?}: {policy}");
        assert!(header(&response, "content-type").starts_with("text/html"));
        let body = response.text().await.unwrap();
        let content = match csp {
            "frame-ancestors 'self'" => String::new(),
            "frame-ancestors *" => "*".to_owned(),
            _ => origins.join(" "),
        };
        let meta = format!("<meta name=\"emban-allowed-origins\" content=\"{content}\">");
        assert!(body.contains(&meta), "{body}");
        assert!(body.contains("<title>Emban</title>"));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year() {
    let (data, dist) = (Dir::new("data"), Dir::new("dist"));
    fake_build(&dist.0);
    let server = server(&dist.0, &data).await;
    let client = reqwest::Client::new();
    let js =
        client.get(format!("{}/embed-assets/embed-runtime-0123abcd.js", server.url())).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(header(&js, "cache-control"), "public, max-age=31536000, immutable");
    assert!(header(&js, "content-type").contains("javascript"), "{}", header(&js, "content-type"));
    let wasm = client
        .get(format!("{}/embed-assets/embed-runtime-0123abcd_bg.wasm", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.status(), 200);
    assert_eq!(header(&wasm, "content-type"), "application/wasm");
    assert_eq!(wasm.bytes().await.unwrap().as_ref(), b"\0asm\x01\0\0\0");
    for missing in ["index.html", "nope.js", "..%2Findex.html", "../Cargo.toml"] {
        let response = client.get(format!("{}/embed-assets/{missing}", server.url())).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
        assert_ne!(header(&response, "cache-control"), "public, max-age=31536000, immutable", "{missing}");
    }
    server.stop().await.unwrap();
}

/// What `build_runtime` writes beside each asset: the server must pick by `Accept-Encoding`.
#[tokio::test]
async fn assets_go_precompressed_as_the_browser_accepts() {
    let (data, dist) = (Dir::new("data"), Dir::new("dist"));
    fake_build(&dist.0);
    let wasm_path = dist.0.join("embed-runtime-0123abcd_bg.wasm");
    std::fs::write(wasm_path.with_extension("wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(wasm_path.with_extension("wasm.gz"), b"gzip bytes").unwrap();
    let js_path = dist.0.join("embed-runtime-0123abcd.js");
    std::fs::write(js_path.with_extension("js.gz"), b"gzip js").unwrap();
    let server = server(&dist.0, &data).await;
    let client = reqwest::Client::new();
    let wasm_url = format!("{}/embed-assets/embed-runtime-0123abcd_bg.wasm", server.url());
    let cases: [(Option<&str>, &str, &[u8]); 5] = [
        (Some("gzip, deflate, br, zstd"), "br", b"brotli bytes"),
        (Some("br;q=0.5, gzip"), "gzip", b"gzip bytes"),
        (Some("gzip"), "gzip", b"gzip bytes"),
        (Some("identity"), "", b"\0asm\x01\0\0\0"),
        (None, "", b"\0asm\x01\0\0\0"),
    ];
    for (accept, encoding, body) in cases {
        let mut request = client.get(&wasm_url);
        if let Some(accept) = accept {
            request = request.header("accept-encoding", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{accept:?}");
        assert_eq!(header(&response, "content-encoding"), encoding, "{accept:?}");
        assert_eq!(header(&response, "content-type"), "application/wasm", "{accept:?}");
        assert!(header(&response, "vary").to_ascii_lowercase().contains("accept-encoding"), "{accept:?}");
        assert_eq!(header(&response, "cache-control"), "public, max-age=31536000, immutable");
        assert_eq!(response.bytes().await.unwrap().as_ref(), body, "{accept:?}");
    }
    // Only a gzip copy of the JS: brotli-only browsers get the plain file.
    let js_url = format!("{}/embed-assets/embed-runtime-0123abcd.js", server.url());
    let js = client.get(&js_url).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(header(&js, "content-encoding"), "");
    assert!(header(&js, "content-type").contains("javascript"));
    assert_eq!(js.text().await.unwrap(), "export default function init() {}");
    let js = client.get(&js_url).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(header(&js, "content-encoding"), "gzip");
    assert!(header(&js, "content-type").contains("javascript"));
    server.stop().await.unwrap();
}

/// The page (dynamic: framing and inlined first answers) is compressed per request as accepted,
/// and keeps its headers.
#[tokio::test]
async fn the_page_goes_compressed_as_the_browser_accepts() {
    use std::io::Read;
    let (data, dist) = (Dir::new("data"), Dir::new("dist"));
    fake_build(&dist.0);
    let server = server(&dist.0, &data).await;
    let client = reqwest::Client::new();
    let url = format!("{}/embed/dash_1", server.url());
    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(header(&plain, "content-encoding"), "");
    let plain = plain.text().await.unwrap();
    assert!(plain.contains("<title>Emban</title>"), "{plain}");
    for (accept, encoding) in [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip"), ("identity", "")] {
        let response = client.get(&url).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        assert_eq!(header(&response, "content-encoding"), encoding, "{accept}");
        assert!(header(&response, "vary").to_ascii_lowercase().contains("accept-encoding"), "{accept}");
        assert_eq!(header(&response, "cache-control"), "no-store", "{accept}");
        assert!(header(&response, "content-type").starts_with("text/html"), "{accept}");
        assert!(header(&response, "content-security-policy").contains("frame-ancestors"), "{accept}");
        let body = response.bytes().await.unwrap();
        match encoding {
            "gzip" => {
                let mut text = String::new();
                flate2::read::GzDecoder::new(body.as_ref()).read_to_string(&mut text).unwrap();
                assert_eq!(text, plain);
            }
            "br" => assert_ne!(body.as_ref(), plain.as_bytes(), "brotli bytes, not the plain page"),
            _ => assert_eq!(body.as_ref(), plain.as_bytes()),
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_build_the_page_says_so() {
    let (data, dist) = (Dir::new("data"), Dir::new("empty"));
    let server = server(&dist.0, &data).await;
    let response = reqwest::get(format!("{}/embed/dash_1", server.url())).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "cache-control"), "no-store");
    server.stop().await.unwrap();
}
