-- Billing (issue 17): each org's plan and Paddle billing state, and the Paddle webhook events
-- already processed. An org without a row (or plan) is on the default plan (`free` when billing
-- is on).
CREATE TABLE billing_accounts (
    org_id                  INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    plan                    TEXT,
    status                  TEXT,
    paddle_customer_id      TEXT,
    paddle_subscription_id  TEXT,
    -- `occurred_at` (microseconds since the epoch) of the newest subscription event applied:
    -- an older one arriving later never rolls the plan back.
    subscription_event_us   INTEGER,
    updated_at              TEXT NOT NULL
);
CREATE INDEX billing_accounts_customer ON billing_accounts (paddle_customer_id);

-- One row per Paddle event id ever processed: the primary key makes a replay (or a concurrent
-- duplicate delivery) a no-op.
CREATE TABLE paddle_events (
    event_id     TEXT PRIMARY KEY,
    event_type   TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    org_id       INTEGER,
    outcome      TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
