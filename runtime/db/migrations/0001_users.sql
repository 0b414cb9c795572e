-- 0001_users: accounts. Applied once, in a transaction, by tf_migrate.
--
-- Ids are random UUIDs (gen_random_uuid is built in since PostgreSQL 13):
-- they appear in the API, so they should not reveal how many users exist.
-- Emails are unique regardless of case through an index on lower(email);
-- the register endpoint also stores them lower-cased. No citext: it would
-- need an extension for one comparison.

CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text        NOT NULL,          -- validated by spec/schemas before it gets here
    password_hash text        NOT NULL,          -- argon2id, libsodium's crypto_pwhash_str format
    display_name  text,
    tier          text        NOT NULL DEFAULT 'registered',  -- a tier of spec/tiers.yaml
    is_admin      boolean     NOT NULL DEFAULT false,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- updated_at follows every UPDATE without each query having to set it.
CREATE FUNCTION tf_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION tf_touch_updated_at();
