-- Native push (APNs, FCM): the device tokens of each actor, and one
-- pending delivery per (outbox row, device) still to be announced, written
-- in the transaction that inserts the outbox row (as `push_deliveries` is
-- for Web Push). A token is the service's address of one app install; the
-- worker deletes it when the service reports it gone. Times of deliveries
-- are Unix milliseconds; `last_status` is an HTTP status, a service reason
-- or `network`. No medical data.
CREATE TABLE push_devices (
    token TEXT PRIMARY KEY NOT NULL,
    platform TEXT NOT NULL,
    app_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    actor_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_devices_actor ON push_devices (actor_id);

CREATE TABLE push_device_deliveries (
    outbox_id BIGINT NOT NULL,
    token TEXT NOT NULL REFERENCES push_devices(token) ON DELETE CASCADE,
    actor_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_status TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (outbox_id, token)
);
CREATE INDEX push_device_deliveries_due ON push_device_deliveries (next_attempt_ms);
CREATE INDEX push_device_deliveries_token ON push_device_deliveries (token);
