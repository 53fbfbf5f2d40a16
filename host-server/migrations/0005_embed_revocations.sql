-- Revoked embed sessions (issue 11): single sessions by jti, and every session of a tenant minted
-- before a time. Both scoped to the org and environment that minted them. Rows outlive their use
-- by at most a day (the longest session); the server prunes them on start.
CREATE TABLE embed_session_revocations (
    org_id INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    env_id INTEGER NOT NULL,
    jti TEXT NOT NULL,
    -- The session's own expiry (Unix seconds): after it the row has nothing left to refuse.
    expires_at_unix INTEGER NOT NULL,
    revoked_at TEXT NOT NULL,
    PRIMARY KEY (org_id, env_id, jti)
);

CREATE TABLE embed_tenant_revocations (
    org_id INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    env_id INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    -- Sessions of the tenant issued (iat, Unix seconds) before this are revoked.
    revoked_before_unix INTEGER NOT NULL,
    PRIMARY KEY (org_id, env_id, tenant_id)
);

-- API keys gain the `embed` scope (may only mint embed sessions). SQLite cannot change a CHECK
-- constraint in place: rebuild the table (nothing references it).
CREATE TABLE api_keys_new (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id      INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('admin', 'ingest', 'embed')),
    prefix      TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at  TEXT
);
INSERT INTO api_keys_new SELECT id, org_id, env_id, label, scope, prefix, key_hash, created_at,
    last_used_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE INDEX api_keys_org ON api_keys (org_id);
