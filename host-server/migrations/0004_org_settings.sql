-- Org settings: a contact email and the origins allowed to frame the org's embeds (a JSON array
-- of origin patterns; empty = any page may frame them).
ALTER TABLE orgs ADD COLUMN email TEXT;
ALTER TABLE orgs ADD COLUMN embedding_allowed_origins TEXT NOT NULL DEFAULT '[]';
