-- Login rate limits shared by every relay process on this database: one row
-- per limited key (an email, a client IP, a patient's actor id) holding the
-- GCRA "theoretical arrival time" in Unix milliseconds. A row whose time is
-- in the past limits nothing and may be deleted.
CREATE TABLE login_limits (
    limit_key TEXT PRIMARY KEY NOT NULL,
    tat_ms BIGINT NOT NULL
);
CREATE INDEX login_limits_tat ON login_limits (tat_ms);
