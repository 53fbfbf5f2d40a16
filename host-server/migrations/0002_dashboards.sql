-- Dashboards (a draft config and the last published snapshot) and standalone widgets, each
-- confined to one org and environment. Configs are JSON text in the contract's shape.
CREATE TABLE dashboards (
    id                TEXT PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id            INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    config            TEXT NOT NULL,
    published_config  TEXT,
    is_published      INTEGER NOT NULL DEFAULT 0,
    published_at      TEXT,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX dashboards_scope ON dashboards (org_id, env_id, created_at);

CREATE TABLE widgets (
    id                TEXT PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    env_id            INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    config            TEXT NOT NULL,
    published_config  TEXT,
    published_at      TEXT,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX widgets_scope ON widgets (org_id, env_id, created_at);

-- GET /v1/embed-sessions reads the newest embed_session.create rows of an org.
CREATE INDEX audit_org_action ON audit (org_id, action, id DESC);
