-- Which relay holds which actor's WebSockets, for relays that share this
-- database: a relay sends no Web Push to an actor connected to any relay.
-- Each relay refreshes its `relay_instances` row while it runs; the sockets
-- of a relay whose row lapsed (it crashed) no longer count, and are removed
-- with it. A graceful stop removes its rows. No medical data.
CREATE TABLE relay_instances (
    id TEXT PRIMARY KEY NOT NULL,
    alive_until_ms BIGINT NOT NULL
);
CREATE TABLE push_sockets (
    id TEXT PRIMARY KEY NOT NULL,
    relay_id TEXT NOT NULL,
    actor_id TEXT NOT NULL
);
CREATE INDEX push_sockets_actor ON push_sockets (actor_id);
CREATE INDEX push_sockets_relay ON push_sockets (relay_id);
