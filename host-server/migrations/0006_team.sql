-- Teams: when a member last used the console, and invites (the token stored hashed, single use,
-- expiring, cancellable). At most one pending invite per org and email.
ALTER TABLE memberships ADD COLUMN last_seen_at TEXT;

CREATE TABLE invites (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email         TEXT NOT NULL COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    token_hash    TEXT NOT NULL UNIQUE,
    invited_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    accepted_at   TEXT,
    accepted_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    cancelled_at  TEXT
);
CREATE UNIQUE INDEX invites_pending ON invites (org_id, email) WHERE accepted_at IS NULL AND cancelled_at IS NULL;

CREATE INDEX sessions_member ON sessions (user_id, org_id);

-- Ids of deleted orgs: never given to a new org, so nothing keyed by an org id (caches, event
-- de-duplication, a ClickHouse mutation still running) can ever apply to someone else.
CREATE TABLE retired_org_ids (id INTEGER PRIMARY KEY);
