-- Orgs, users, memberships, environments, sessions, API keys, audit and usage counters.
CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    is_demo     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE memberships (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);

CREATE TABLE environments (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id      INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('admin', 'ingest')),
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at  TEXT
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX audit_org_time ON audit (org_id, id DESC);

-- Per org, environment and UTC day: events stored through the API, and queries answered.
CREATE TABLE usage_daily (
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id      INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    day         TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       INTEGER NOT NULL,
    PRIMARY KEY (org_id, env_id, day, metric)
);
