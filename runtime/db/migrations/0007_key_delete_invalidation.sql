-- 0007_key_delete_invalidation: gateway nodes cache API keys (tf_keycache).
-- Revocation is an UPDATE, announced since 0005; a key row deleted outright
-- (an operator's SQL, a user removed with ON DELETE CASCADE) or moved to
-- another user or hash must drop the caches just the same, or the key would
-- keep its old meaning until the cache expires. last_used_at writes, the
-- frequent update, still announce nothing.
CREATE TRIGGER api_keys_invalidate_delete AFTER DELETE ON api_keys FOR EACH ROW
    EXECUTE FUNCTION tf_announce_invalidation();

DROP TRIGGER api_keys_invalidate ON api_keys;
CREATE TRIGGER api_keys_invalidate AFTER UPDATE ON api_keys FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.key_hash IS DISTINCT FROM NEW.key_hash)
    EXECUTE FUNCTION tf_announce_invalidation();
