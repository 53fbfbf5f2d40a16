-- Saved ad-hoc SQL snippets of the Query Builder, shared by an org's console users.
CREATE TABLE saved_queries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    sql         TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    starred     INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX saved_queries_org ON saved_queries (org_id, id);
