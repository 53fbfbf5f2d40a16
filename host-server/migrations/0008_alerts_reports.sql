-- Alerts, scheduled reports, the scheduler's jobs and the webhook outbox (docs/alerts.md).

-- Alert rules: a widget of a dashboard, a condition, and where notifications go.
CREATE TABLE alerts (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id                  INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id                  INTEGER NOT NULL,
    dashboard_id            TEXT NOT NULL,
    widget_id               TEXT NOT NULL,
    name                    TEXT NOT NULL,
    condition_type          TEXT NOT NULL,
    operator                TEXT NOT NULL,
    threshold_value         REAL NOT NULL,
    lookback_minutes        INTEGER NOT NULL,
    tenant_ids              TEXT NOT NULL,      -- JSON array, 1 to 100 tenants
    email_to                TEXT NOT NULL,      -- JSON array
    webhook_url             TEXT,
    enabled                 INTEGER NOT NULL,
    pending_minutes         INTEGER NOT NULL,
    notify_on_resolve       INTEGER NOT NULL,
    repeat_interval_minutes INTEGER,
    created_by              TEXT NOT NULL,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE INDEX alerts_org ON alerts (org_id, id);

-- One state per alert and tenant: ok, pending, firing, resolved or error.
CREATE TABLE alert_states (
    alert_id         INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL,
    state            TEXT NOT NULL,
    since            TEXT NOT NULL,
    value            REAL,
    error            TEXT,
    last_notified_at TEXT,
    evaluated_at     TEXT NOT NULL,
    PRIMARY KEY (alert_id, tenant_id)
);

-- Firing, resolution and error events, with how their notifications went.
CREATE TABLE alert_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id        INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    org_id          INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    value           REAL,
    threshold_value REAL NOT NULL,
    message         TEXT,
    email_status    TEXT,
    webhook_status  TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- Scheduled report rules.
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id        INTEGER NOT NULL,
    dashboard_id  TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    period        TEXT NOT NULL,
    filters       TEXT NOT NULL,      -- JSON object of dimension filters
    schedule      TEXT NOT NULL,
    timezone      TEXT NOT NULL,
    format        TEXT NOT NULL,
    email_to      TEXT NOT NULL,      -- JSON array
    webhook_url   TEXT,
    enabled       INTEGER NOT NULL,
    skip_if_empty INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX reports_org ON reports (org_id, id);

-- Report runs: when each was due, ran and finished, and how each delivery went.
CREATE TABLE report_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id      INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    org_id         INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    scheduled_for  TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL,
    email_status   TEXT,
    webhook_status TEXT,
    error          TEXT,
    bytes          INTEGER
);
CREATE INDEX report_runs_report ON report_runs (report_id, id);

-- The scheduler: every alert evaluation and report run is one job row. A process claims a due
-- job by writing its lease (owner and expiry) in one UPDATE; an expired lease may be claimed
-- again (the owner died mid-run). Done jobs keep their outcome for a while.
CREATE TABLE scheduler_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,       -- alert | report
    target_id        INTEGER NOT NULL,
    org_id           INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    due_at           TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    started_at       TEXT,
    finished_at      TEXT,
    outcome          TEXT,                -- NULL while open; done | failed | cancelled
    error            TEXT
);
-- At most one open job per target: the next one is written when one finishes.
CREATE UNIQUE INDEX scheduler_jobs_open ON scheduler_jobs (kind, target_id) WHERE outcome IS NULL;
CREATE INDEX scheduler_jobs_due ON scheduler_jobs (due_at) WHERE outcome IS NULL;

-- Per-org webhook signing secrets (whsec_...): the newest signs; an older one keeps signing
-- beside it until its expiry (the rotation grace period).
CREATE TABLE webhook_secrets (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX webhook_secrets_org ON webhook_secrets (org_id, id);

-- The webhook outbox: one row per message, retried on a schedule until delivered or given up.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id           INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    message_id       TEXT NOT NULL UNIQUE,
    url              TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,       -- pending | delivered | failed | disabled
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    created_at       TEXT NOT NULL,
    source           TEXT NOT NULL        -- alert_event:<id> | report_run:<id> | test
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Every attempt, for GET /v1/webhooks.
CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    org_id           INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    attempted_at     TEXT NOT NULL,
    ok               INTEGER NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    response_excerpt TEXT,
    duration_ms      INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_target ON webhook_attempts (org_id, url, id);

-- Targets that answered 410 Gone: nothing more is sent there until the rule's URL changes.
CREATE TABLE webhook_disabled_targets (
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    disabled_at TEXT NOT NULL,
    PRIMARY KEY (org_id, url)
);
