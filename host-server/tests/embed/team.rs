//! Teams (issue 15): invites, accepting them, roles and the last-owner rule, removal ending
//! sessions, several orgs per user, org deletion, and the access table held against every
//! `/v1` route with every role and key scope.

use emban_host_server::auth::access::{Need, RULES};
use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::fixture::{Auth, Org, TestApp, call};

/// The session cookie pair a response set.
fn cookie_of(resp: &crate::fixture::Resp) -> String {
    resp.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|p| p.starts_with("emban_session=")))
        .expect("session cookie")
        .to_owned()
}

fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Invites `email` into `org` as `role` and accepts as a new user; returns the cookie.
async fn join(app: &TestApp, org: &Org, email: &str, role: &str) -> String {
    let owner = Auth::Cookie(org.cookie.clone());
    let invite = app.post("/v1/members/invite", &owner, &json!({ "email": email, "role": role })).await;
    let token = invite.ok(StatusCode::CREATED)["token"].as_str().expect("token").to_owned();
    let accepted = app
        .post(
            "/v1/auth/accept-invite",
            &Auth::None,
            &json!({ "token": token, "password": "long enough pw", "name": role }),
        )
        .await;
    accepted.ok(StatusCode::OK);
    cookie_of(&accepted)
}

async fn member_id(app: &TestApp, org: &Org, email: &str) -> i64 {
    let members = app.get("/v1/members", &Auth::Cookie(org.cookie.clone())).await;
    members.ok(StatusCode::OK)["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == email)
        .and_then(|m| m["id"].as_i64())
        .expect("member id")
}

#[tokio::test]
async fn invites_are_single_use_expire_and_cannot_be_doubled() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let owner = Auth::Cookie(org.cookie.clone());
    let invitee = email("new");

    let created =
        app.post("/v1/members/invite", &owner, &json!({ "email": invitee, "role": "editor" })).await;
    let body = created.ok(StatusCode::CREATED).clone();
    let token = body["token"].as_str().expect("token").to_owned();
    assert_eq!(body["role"], "editor");
    assert_eq!(body["invite_url"], format!("{}/accept-invite?token={token}", app.url()));

    // A second invite for the same email, and one for a member, are conflicts.
    app.post("/v1/members/invite", &owner, &json!({ "email": invitee.to_uppercase(), "role": "viewer" }))
        .await
        .error(StatusCode::CONFLICT, "conflict");
    app.post("/v1/members/invite", &owner, &json!({ "email": org.email, "role": "viewer" }))
        .await
        .error(StatusCode::CONFLICT, "conflict");
    app.post("/v1/members/invite", &owner, &json!({ "email": email("x"), "role": "owner" }))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");

    // Listed without the token, and the token is stored only as a hash.
    let listed = app.get("/v1/members/invites", &owner).await;
    let listed = listed.ok(StatusCode::OK)["invites"].clone();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(listed[0].get("token").is_none() && !listed.to_string().contains(&token));
    let meta = std::fs::read(app.dir.join("meta.sqlite")).expect("meta file");
    assert!(!String::from_utf8_lossy(&meta).contains(&token), "the token is stored in clear");

    // Malformed and unknown tokens.
    app.post(
        "/v1/auth/accept-invite",
        &Auth::None,
        &json!({ "token": "not a token!", "password": "long enough pw" }),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_request");
    app.post(
        "/v1/auth/accept-invite",
        &Auth::None,
        &json!({ "token": "a".repeat(43), "password": "long enough pw" }),
    )
    .await
    .error(StatusCode::NOT_FOUND, "not_found");

    // Accepted once: the new user is an editor with a session; the token is spent.
    let accepted = app
        .post("/v1/auth/accept-invite", &Auth::None, &json!({ "token": token, "password": "long enough pw" }))
        .await;
    assert_eq!(accepted.ok(StatusCode::OK)["role"], "editor");
    let me = app.get("/v1/auth/me", &Auth::Cookie(cookie_of(&accepted))).await;
    assert_eq!(me.ok(StatusCode::OK)["role"], "editor");
    app.post("/v1/auth/accept-invite", &Auth::None, &json!({ "token": token, "password": "long enough pw" }))
        .await
        .error(StatusCode::BAD_REQUEST, "invite_used");

    // Cancelled and expired invites refuse with their own codes.
    let cancelled =
        app.post("/v1/members/invite", &owner, &json!({ "email": email("c"), "role": "viewer" })).await;
    let cancelled = cancelled.ok(StatusCode::CREATED).clone();
    let id = cancelled["id"].as_i64().expect("id");
    app.delete(&format!("/v1/members/invites/{id}"), &owner).await.ok(StatusCode::NO_CONTENT);
    app.delete(&format!("/v1/members/invites/{id}"), &owner).await.error(StatusCode::NOT_FOUND, "not_found");
    app.post(
        "/v1/auth/accept-invite",
        &Auth::None,
        &json!({ "token": cancelled["token"], "password": "long enough pw" }),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invite_cancelled");

    let expiring =
        app.post("/v1/members/invite", &owner, &json!({ "email": email("e"), "role": "viewer" })).await;
    let expiring = expiring.ok(StatusCode::CREATED).clone();
    app.sql(
        "UPDATE invites SET expires_at = '2000-01-01T00:00:00Z' WHERE id = ?",
        expiring["id"].as_i64().expect("id"),
    )
    .await;
    app.post(
        "/v1/auth/accept-invite",
        &Auth::None,
        &json!({ "token": expiring["token"], "password": "long enough pw" }),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invite_expired");
    // An expired invite no longer blocks a new one for the same email.
    app.post("/v1/members/invite", &owner, &json!({ "email": expiring["email"], "role": "viewer" }))
        .await
        .ok(StatusCode::CREATED);

    // Every change is in the audit log, without tokens.
    let audit = app.get("/v1/audit?action=member.invite", &owner).await;
    let entries = audit.ok(StatusCode::OK)["entries"].clone();
    assert!(entries.as_array().expect("entries").len() >= 3);
    assert!(entries.as_array().expect("entries").iter().all(|e| e["action"] == "member.invite"));
    let all = app.get("/v1/audit", &owner).await.ok(StatusCode::OK).to_string();
    assert!(all.contains("member.join") && all.contains("member.invite_cancel"));
    assert!(!all.contains(&token));
}

#[tokio::test]
async fn a_signed_in_user_joins_with_the_token_alone_and_switches_orgs() {
    let app = TestApp::new().await;
    let first = app.register().await;
    let second = app.register().await;
    let invite = app
        .post(
            "/v1/members/invite",
            &Auth::Cookie(first.cookie.clone()),
            &json!({ "email": second.email, "role": "viewer" }),
        )
        .await;
    let token = invite.ok(StatusCode::CREATED)["token"].clone();
    // Someone else's session cannot use it.
    let stranger = app.register().await;
    app.post("/v1/auth/accept-invite", &Auth::Cookie(stranger.cookie.clone()), &json!({ "token": token }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    let joined = app
        .post("/v1/auth/accept-invite", &Auth::Cookie(second.cookie.clone()), &json!({ "token": token }))
        .await;
    assert_eq!(joined.ok(StatusCode::OK)["role"], "viewer");
    let session = Auth::Cookie(cookie_of(&joined));
    let me = app.get("/v1/auth/me", &session).await.ok(StatusCode::OK).clone();
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["orgs"].as_array().map(Vec::len), Some(2), "{me}");
    // Switch back to the user's own org, where they are the owner.
    let own =
        me["orgs"].as_array().expect("orgs").iter().find(|o| o["role"] == "owner").expect("own org")["id"]
            .clone();
    let switched = app.post("/v1/auth/switch-org", &session, &json!({ "org_id": own })).await;
    assert_eq!(switched.ok(StatusCode::OK)["role"], "owner");
    assert_eq!(app.get("/v1/auth/me", &session).await.ok(StatusCode::OK)["org"]["id"], own);
    // Not into an org they do not belong to; not with an API key.
    let foreign =
        app.get("/v1/auth/me", &Auth::Cookie(stranger.cookie.clone())).await.ok(StatusCode::OK)["org"]["id"]
            .clone();
    app.post("/v1/auth/switch-org", &session, &json!({ "org_id": foreign }))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    app.post("/v1/auth/switch-org", &Auth::Bearer(second.key.clone()), &json!({ "org_id": own }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn there_is_always_an_owner_and_removed_members_lose_their_sessions() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let owner = Auth::Cookie(org.cookie.clone());
    let admin_email = email("admin");
    let admin = Auth::Cookie(join(&app, &org, &admin_email, "admin").await);
    let viewer_email = email("viewer");
    let viewer = Auth::Cookie(join(&app, &org, &viewer_email, "viewer").await);
    let owner_id = member_id(&app, &org, &org.email).await;
    let admin_id = member_id(&app, &org, &admin_email).await;
    let viewer_id = member_id(&app, &org, &viewer_email).await;

    // Only the owner changes roles; the last owner can neither be demoted nor removed.
    app.patch(&format!("/v1/members/{viewer_id}"), &admin, &json!({ "role": "editor" }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&format!("/v1/members/{owner_id}"), &owner, &json!({ "role": "admin" }))
        .await
        .error(StatusCode::CONFLICT, "conflict");
    app.delete(&format!("/v1/members/{owner_id}"), &owner).await.error(StatusCode::CONFLICT, "conflict");
    app.patch(&format!("/v1/members/{viewer_id}"), &owner, &json!({ "role": "boss" }))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    // An admin removes viewers, not admins.
    app.delete(&format!("/v1/members/{admin_id}"), &admin).await.error(StatusCode::FORBIDDEN, "forbidden");

    // The viewer's session works until they are removed, then at once no longer.
    app.get("/v1/dashboards", &viewer).await.ok(StatusCode::OK);
    app.delete(&format!("/v1/members/{viewer_id}"), &admin).await.ok(StatusCode::NO_CONTENT);
    app.get("/v1/dashboards", &viewer).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.delete(&format!("/v1/members/{viewer_id}"), &admin).await.error(StatusCode::NOT_FOUND, "not_found");

    // Ownership transfer: make the admin an owner, then the first owner may step down.
    let promoted = app.patch(&format!("/v1/members/{admin_id}"), &owner, &json!({ "role": "owner" })).await;
    assert_eq!(promoted.ok(StatusCode::OK)["role"], "owner");
    app.patch(&format!("/v1/members/{owner_id}"), &owner, &json!({ "role": "admin" }))
        .await
        .ok(StatusCode::OK);
    app.patch(&format!("/v1/members/{admin_id}"), &admin, &json!({ "role": "viewer" }))
        .await
        .error(StatusCode::CONFLICT, "conflict");
    let listed = app.get("/v1/members", &admin).await.ok(StatusCode::OK)["members"].clone();
    assert_eq!(listed[0]["email"], admin_email, "owners first: {listed}");
    assert!(listed[0]["joined_at"].is_string() && listed[0].get("last_seen_at").is_some());
    let audit = app.get("/v1/audit?action=member.role", &admin).await.ok(StatusCode::OK)["entries"].clone();
    assert_eq!(audit.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn deleting_an_org_leaves_nothing_of_it_and_nothing_else_changes() {
    let app = TestApp::new().await;
    let doomed = app.register().await;
    let other = app.register().await;
    for org in [&doomed, &other] {
        app.ingest(&org.key, (0..20).map(|i| call("t1", "gpt-4", "/chat", "pro", 1.0, i)).collect()).await;
        app.standard_dashboard(&org.key).await;
        app.post(
            "/v1/saved-queries",
            &Auth::Bearer(org.key.clone()),
            &json!({ "name": "q", "sql": "SELECT 1" }),
        )
        .await
        .ok(StatusCode::CREATED);
    }
    let owner = Auth::Cookie(doomed.cookie.clone());
    let name = app.get("/v1/auth/me", &owner).await.ok(StatusCode::OK)["org"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let org_id = app.get("/v1/auth/me", &owner).await.ok(StatusCode::OK)["org"]["id"].as_i64().expect("id");
    let other_id =
        app.get("/v1/auth/me", &Auth::Cookie(other.cookie.clone())).await.ok(StatusCode::OK)["org"]["id"]
            .as_i64()
            .expect("id");

    // Admin keys and wrong confirmations cannot do it.
    app.send(
        Method::DELETE,
        "/v1/settings/org",
        &Auth::Bearer(doomed.key.clone()),
        Some(&json!({ "confirm": name })),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    app.send(Method::DELETE, "/v1/settings/org", &owner, Some(&json!({ "confirm": "nope" })))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    app.send(Method::DELETE, "/v1/settings/org", &owner, Some(&json!({ "confirm": name })))
        .await
        .ok(StatusCode::NO_CONTENT);

    // Its credentials are dead, its rows gone; the other org is whole.
    app.get("/v1/dashboards", &owner).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.get("/v1/dashboards", &Auth::Bearer(doomed.key.clone()))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.server.state.events.count_org_events(org_id).await.expect("count"), 0);
    assert_eq!(app.server.state.events.count_org_events(other_id).await.expect("count"), 20);
    for table in [
        "orgs",
        "memberships",
        "api_keys",
        "sessions",
        "dashboards",
        "saved_queries",
        "audit",
        "environments",
    ] {
        let column = if table == "orgs" { "id" } else { "org_id" };
        let n = app.sql_count(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?"), org_id).await;
        assert_eq!(n, 0, "{table} still holds the deleted org");
        let kept = app.sql_count(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?"), other_id).await;
        assert!(kept > 0, "{table} lost the other org's rows");
    }
    let other_auth = Auth::Bearer(other.key.clone());
    // Audit rows name a key by its id and listed prefix, never the key.
    let audit =
        app.get("/v1/audit?action=saved_query.create", &other_auth).await.ok(StatusCode::OK)["entries"][0]
            .clone();
    let actor = audit["actor"].as_str().expect("actor");
    assert!(actor.starts_with("api_key:") && actor.ends_with(&format!(":{}", &other.key[..16])), "{actor}");
    assert!(!audit.to_string().contains(&other.key), "{audit}");
    assert_eq!(
        app.get("/v1/dashboards", &other_auth).await.ok(StatusCode::OK)["dashboards"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // An audit row of the deleted org that was still in flight is dropped, and does not fail the
    // other org's rows committed with it.
    let row = |org_id: i64| emban_host_server::meta::dashboards::NewAuditRow {
        org_id,
        actor: "test".into(),
        action: "test.late".into(),
        resource: "x".into(),
        details: "{}".into(),
        created_at: chrono::Utc::now(),
    };
    app.server
        .state
        .dashboards
        .append_audit(vec![row(org_id), row(other_id)])
        .await
        .expect("a batch with a deleted org");
    assert_eq!(
        app.sql_count("SELECT COUNT(*) FROM audit WHERE action = 'test.late' AND org_id = ?", other_id).await,
        1
    );
    // A new org never gets the deleted org's id.
    let next = app.register().await;
    let next_id = app.get("/v1/auth/me", &Auth::Cookie(next.cookie.clone())).await.ok(StatusCode::OK)["org"]
        ["id"]
        .as_i64()
        .expect("id");
    assert!(next_id > org_id.max(other_id));
}

/// Who the table admits, restated here so a wrong entry in either fails the test.
fn admitted(need: Need, who: &str) -> bool {
    match need {
        Need::Viewer => matches!(who, "owner" | "admin" | "editor" | "viewer" | "admin_key"),
        Need::Editor => matches!(who, "owner" | "admin" | "editor" | "admin_key"),
        Need::Admin => matches!(who, "owner" | "admin" | "admin_key"),
        Need::Owner => who == "owner",
        Need::Session => matches!(who, "owner" | "admin" | "editor" | "viewer"),
        Need::Ingest => matches!(who, "owner" | "admin" | "editor" | "admin_key" | "ingest_key"),
        Need::Mint => matches!(who, "owner" | "admin" | "admin_key" | "embed_key"),
        Need::Public | Need::EmbedToken => true,
    }
}

#[tokio::test]
async fn every_route_admits_exactly_whom_the_access_table_says() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let owner = Auth::Cookie(org.cookie.clone());
    let mut principals: Vec<(&str, Auth)> = vec![("owner", owner.clone())];
    for role in ["admin", "editor", "viewer"] {
        principals.push((role, Auth::Cookie(join(&app, &org, &email(role), role).await)));
    }
    principals.push(("admin_key", Auth::Bearer(org.key.clone())));
    for scope in ["ingest", "embed"] {
        let created = app.post("/v1/api-keys", &owner, &json!({ "label": scope, "scope": scope })).await;
        let key = created.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned();
        principals.push((if scope == "ingest" { "ingest_key" } else { "embed_key" }, Auth::Bearer(key)));
    }
    let mut checked = 0;
    for rule in RULES {
        if matches!(rule.need, Need::Public | Need::EmbedToken) {
            continue;
        }
        let path = rule
            .path
            .replace("{name}", "events")
            .replace("{jti}", "no-such-session")
            .replace("{widget_id}", "999999")
            .replace("{id}", "999999");
        let method = Method::from_bytes(rule.method.as_bytes()).expect("method");
        let body = (method != Method::GET).then(|| json!({}));
        // Without credentials: 401.
        let anonymous = app.send(method.clone(), &path, &Auth::None, body.as_ref()).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{} {path} without credentials: {}",
            rule.method,
            anonymous.text
        );
        for (who, auth) in &principals {
            let resp = app.send(method.clone(), &path, auth, body.as_ref()).await;
            let denied = matches!(resp.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED);
            if admitted(rule.need, who) {
                // Paddle is not configured here: its routes answer 503 `paddle_not_configured`.
                let unconfigured = resp.status == StatusCode::SERVICE_UNAVAILABLE
                    && resp.text.contains("paddle_not_configured");
                assert!(
                    !denied && (resp.status.as_u16() < 500 || unconfigured),
                    "{who} on {} {path}: {} {}",
                    rule.method,
                    resp.status,
                    resp.text
                );
            } else {
                assert_eq!(
                    resp.status,
                    StatusCode::FORBIDDEN,
                    "{who} on {} {path}: {}",
                    rule.method,
                    resp.text
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} calls");
}

/// Every `/v1` route the router serves (read from `routes/`), with its methods.
fn served_routes() -> Vec<(String, String)> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("routes dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes"), &mut paths);
    let mut routes = Vec::new();
    for file in paths {
        let text = std::fs::read_to_string(&file).expect("source");
        for chunk in text.split(".route(").skip(1) {
            let Some(path) = chunk.trim_start().strip_prefix('"').and_then(|rest| rest.split('"').next())
            else {
                continue;
            };
            if !path.starts_with("/v1/") {
                continue;
            }
            // The method routers of this call: up to the next builder call or the statement's end.
            let call = chunk.split(';').next().unwrap_or(chunk);
            let call = call.split("\n}").next().unwrap_or(call);
            let call = call.split(".merge(").next().unwrap_or(call);
            for method in ["get", "post", "patch", "put", "delete"] {
                let needle = format!("{method}(");
                if call.match_indices(&needle).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric() && call.as_bytes()[i - 1] != b'_'
                }) {
                    routes.push((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    routes
}

#[test]
fn the_access_table_has_a_rule_for_every_served_route_and_no_other() {
    let served = served_routes();
    assert!(served.len() > 50, "read only {} routes", served.len());
    for (method, path) in &served {
        assert!(
            RULES.iter().any(|r| r.method == method && r.path == path),
            "{method} {path} has no access rule"
        );
    }
    for rule in RULES {
        assert!(
            served.iter().any(|(m, p)| m == rule.method && p == rule.path),
            "the table has a rule for {} {}, which no route serves",
            rule.method,
            rule.path
        );
    }
}

/// Debian's aiosmtpd on a free loopback port, keeping every message in a maildir.
struct Smtp {
    child: std::process::Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl Smtp {
    fn start(dir: &std::path::Path) -> Smtp {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let maildir = dir.join("maildir");
        let child = std::process::Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .spawn()
            .expect("starting aiosmtpd (Debian's python3-aiosmtpd, installed by scripts/setup.sh)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Smtp { child, port, maildir }
    }

    /// The messages received so far, raw.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn invites_go_out_by_mail_when_smtp_is_configured() {
    let scratch = std::env::temp_dir().join(format!("emban-smtp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let smtp = Smtp::start(&scratch);
    let port = smtp.port;
    let app = TestApp::start_with(false, move |args| {
        args.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        args.smtp_from = "Emban <team@emban.test>".to_owned();
    })
    .await;
    let org = app.register().await;
    let invitee = email("mailed");
    let created = app
        .post(
            "/v1/members/invite",
            &Auth::Cookie(org.cookie.clone()),
            &json!({ "email": invitee, "role": "viewer" }),
        )
        .await;
    let body = created.ok(StatusCode::CREATED).clone();
    assert_eq!(body["email_sent"], true, "{body}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let message = loop {
        if let Some(m) = smtp.messages().into_iter().next() {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "no mail arrived");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(message.contains(&format!("To: {invitee}")), "{message}");
    assert!(message.contains("From: Emban <team@emban.test>"), "{message}");
    let url = body["invite_url"].as_str().expect("url");
    assert!(quoted_printable(&message).contains(url), "the link is in the mail: {message}");
    // The mailed link's token works.
    let accepted = app
        .post(
            "/v1/auth/accept-invite",
            &Auth::None,
            &json!({ "token": body["token"], "password": "long enough pw" }),
        )
        .await;
    assert_eq!(accepted.ok(StatusCode::OK)["role"], "viewer");
    drop(smtp);
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Decodes a quoted-printable body (soft line breaks and `=XX` escapes).
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn two_owners_stepping_down_at_once_leave_one_owner() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let owner = Auth::Cookie(org.cookie.clone());
    let second_email = email("second");
    let second = Auth::Cookie(join(&app, &org, &second_email, "admin").await);
    let first_id = member_id(&app, &org, &org.email).await;
    let second_id = member_id(&app, &org, &second_email).await;
    app.patch(&format!("/v1/members/{second_id}"), &owner, &json!({ "role": "owner" }))
        .await
        .ok(StatusCode::OK);
    for _ in 0..10 {
        // Each owner demotes themself at the same moment: one may win, never both.
        let (first_path, second_path) =
            (format!("/v1/members/{first_id}"), format!("/v1/members/{second_id}"));
        let step_down = json!({ "role": "admin" });
        let (a, b) = tokio::join!(
            app.patch(&first_path, &owner, &step_down),
            app.patch(&second_path, &second, &step_down)
        );
        let won = [&a, &b].iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(won, 1, "{} / {}", a.text, b.text);
        assert!([&a, &b].iter().any(|r| r.status == StatusCode::CONFLICT));
        let members = app.get("/v1/members", &owner).await;
        let members = if members.status == StatusCode::FORBIDDEN {
            app.get("/v1/members", &second).await
        } else {
            members
        };
        let owners = members.ok(StatusCode::OK)["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter(|m| m["role"] == "owner")
            .count();
        assert_eq!(owners, 1);
        // Whoever stepped down becomes owner again for the next round.
        let (demoted, by) =
            if a.status == StatusCode::OK { (first_id, &second) } else { (second_id, &owner) };
        app.patch(&format!("/v1/members/{demoted}"), by, &json!({ "role": "owner" }))
            .await
            .ok(StatusCode::OK);
    }
}
