DROP TABLE push_subscriptions;
DROP TABLE push_acks;
DROP INDEX outbox_ledger_event;
ALTER TABLE outbox DROP COLUMN tx_id;
ALTER TABLE outbox DROP COLUMN ledger_block;
