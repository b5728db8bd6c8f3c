DROP TABLE ledger_cursor;
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE login_challenges;
DROP TABLE refresh_tokens;
DROP TABLE devices;
DROP TABLE accounts;
