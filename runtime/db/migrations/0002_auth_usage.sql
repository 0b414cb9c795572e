-- 0002_auth_usage: API keys, sessions (refresh tokens), usage, request-rate
-- windows, login throttling and the admin audit log.
--
-- Secrets are never stored: API keys and refresh tokens are random 256-bit
-- values, so a SHA-256 of them is enough (a slow hash is for passwords,
-- which people choose); only a short prefix of a key is kept to show.

CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         text        NOT NULL DEFAULT '',
    prefix       text        NOT NULL,
    key_hash     bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE sessions (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    replaced_by  uuid
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Tokens per subject (a user id, or "guest:<address>"), day (UTC) and model.
CREATE TABLE usage_daily (
    subject           text   NOT NULL,
    day               date   NOT NULL,
    model             text   NOT NULL,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    requests          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, day, model)
);

-- Fixed one-hour windows of request counts, shared by every gateway node.
CREATE TABLE rate_windows (
    subject      text        NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, window_start)
);

-- Failed logins per account and per address in the current window.
CREATE TABLE login_failures (
    key          text        PRIMARY KEY,   -- "user:<email>" or "addr:<ip>"
    failures     integer     NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor_id  uuid,
    actor     text        NOT NULL,   -- email of the admin, or "cli"
    action    text        NOT NULL,   -- "set_tier", "disable_user", "create_key", ...
    target    text,
    details   jsonb       NOT NULL DEFAULT '{}'
);

-- Access tokens (JWT) issued before this instant are refused: logout and
-- "log out everywhere" take effect at once, not when the token expires.
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity';
