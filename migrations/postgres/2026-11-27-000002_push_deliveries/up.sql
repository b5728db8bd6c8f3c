-- Durable Web Push: one row per (outbox row, subscription) still to be
-- announced, written in the transaction that inserts the outbox row, so a
-- push survives a restart. The worker deletes a row once the push service
-- accepted it, gave up, or the subscription is gone. Times are Unix
-- milliseconds; `last_status` is an HTTP status or `network`. No medical data.
CREATE TABLE push_deliveries (
    outbox_id BIGINT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
    actor_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_status TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (outbox_id, subscription_id)
);
CREATE INDEX push_deliveries_due ON push_deliveries (next_attempt_ms);
CREATE INDEX push_deliveries_subscription ON push_deliveries (subscription_id);
