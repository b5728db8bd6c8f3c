//! The diesel schema, shared by SQLite and PostgreSQL (one `MultiConnection`).
//!
//! Kept in the portable subset (`Text`, `BigInt`, `Integer`) so one file
//! describes both migration sets; `tests/schema.rs` applies each set to a fresh
//! database and fails when a table, column, type or nullability differs from
//! this file. Edit it together with `migrations/`, never alone.
#![allow(missing_docs)]

diesel::table! {
    accounts (id) {
        id -> Text,
        role -> Text,
        email -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        display_name -> Text,
        status -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        account_id -> Text,
        actor_id -> Text,
        signing_key -> Text,
        hpke_key -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        account_id -> Text,
        family -> Text,
        token_hash -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    login_challenges (nonce) {
        nonce -> Text,
        actor_id -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_keys (account_id, idem_key) {
        account_id -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        recipient -> Text,
        kind -> Text,
        payload -> Text,
        created_at -> BigInt,
        ledger_block -> Nullable<BigInt>,
        tx_id -> Nullable<Text>,
    }
}

diesel::table! {
    ledger_cursor (id) {
        id -> Integer,
        next_block -> BigInt,
    }
}

diesel::table! {
    push_acks (actor_id, device) {
        actor_id -> Text,
        device -> Text,
        acked_id -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> Text,
        account_id -> Text,
        actor_id -> Text,
        endpoint -> Text,
        p256dh -> Text,
        auth -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    login_limits (limit_key) {
        limit_key -> Text,
        tat_ms -> BigInt,
    }
}

diesel::table! {
    push_deliveries (outbox_id, subscription_id) {
        outbox_id -> BigInt,
        subscription_id -> Text,
        actor_id -> Text,
        attempts -> Integer,
        next_attempt_ms -> BigInt,
        last_status -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    relay_instances (id) {
        id -> Text,
        alive_until_ms -> BigInt,
    }
}

diesel::table! {
    push_sockets (id) {
        id -> Text,
        relay_id -> Text,
        actor_id -> Text,
    }
}

diesel::joinable!(devices -> accounts (account_id));
diesel::joinable!(refresh_tokens -> accounts (account_id));
diesel::joinable!(push_deliveries -> push_subscriptions (subscription_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    devices,
    refresh_tokens,
    login_challenges,
    idempotency_keys,
    outbox,
    ledger_cursor,
    push_acks,
    push_subscriptions,
    login_limits,
    push_deliveries,
    relay_instances,
    push_sockets,
);
