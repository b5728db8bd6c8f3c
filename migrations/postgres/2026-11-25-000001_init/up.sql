-- (PostgreSQL) The relay's own state. Never medical data: accounts, public keys, hashed
-- secrets, idempotency records and the push outbox. Times are Unix seconds.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    email TEXT UNIQUE,
    password_hash TEXT,
    actor_id TEXT UNIQUE,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    actor_id TEXT NOT NULL UNIQUE,
    signing_key TEXT NOT NULL,
    hpke_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    family TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);

CREATE TABLE login_challenges (
    nonce TEXT PRIMARY KEY NOT NULL,
    actor_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, idem_key)
);

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_recipient ON outbox (recipient, id);

CREATE TABLE ledger_cursor (
    id INTEGER PRIMARY KEY NOT NULL,
    next_block BIGINT NOT NULL
);
INSERT INTO ledger_cursor (id, next_block) VALUES (1, 0);
