-- Push delivery: the ledger position of each outbox row (so the producer
-- inserts each (block, transaction, recipient) once), per-device
-- acknowledgement cursors, and Web Push subscriptions. No medical data.
ALTER TABLE outbox ADD COLUMN ledger_block BIGINT;
ALTER TABLE outbox ADD COLUMN tx_id TEXT;
CREATE UNIQUE INDEX outbox_ledger_event ON outbox (ledger_block, tx_id, recipient);

CREATE TABLE push_acks (
    actor_id TEXT NOT NULL,
    device TEXT NOT NULL,
    acked_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (actor_id, device)
);

CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    actor_id TEXT NOT NULL,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_actor ON push_subscriptions (actor_id);
