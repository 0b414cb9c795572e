-- Every gateway node caches users and keys for a few seconds. A change that
-- matters to those caches (tier, admin flag, disabled, logout, key
-- revocation), made by any node, the CLI or an operator's SQL, is announced
-- on channel tf_invalidate so every node drops its caches at once.
CREATE FUNCTION tf_announce_invalidation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tf_invalidate', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_invalidate AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.tier IS DISTINCT FROM NEW.tier OR OLD.is_admin IS DISTINCT FROM NEW.is_admin
          OR OLD.disabled IS DISTINCT FROM NEW.disabled OR OLD.tokens_valid_after IS DISTINCT FROM NEW.tokens_valid_after)
    EXECUTE FUNCTION tf_announce_invalidation();
CREATE TRIGGER users_invalidate_delete AFTER DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION tf_announce_invalidation();
CREATE TRIGGER api_keys_invalidate AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION tf_announce_invalidation();
