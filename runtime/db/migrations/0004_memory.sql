-- 0004_memory: the memory_* MCP tools' store (tools/memory.c).
--
-- Every row belongs to one user and every query names that user, so the
-- table is hash-partitioned on user_id into 12 partitions (the seeds' "12
-- shards"): a user's reads and writes touch one partition and its indexes
-- only, and each partition stays a twelfth of the size. Partitioning needs
-- the partition key in every unique constraint, hence (user_id, id) as the
-- primary key; ids are still random UUIDs, unique on their own in practice.
--
-- Search combines two PostgreSQL features:
--   - full-text search: a generated tsvector column (key and content,
--     English stemming) with a GIN index, queried with websearch_to_tsquery
--     (quotes, OR and -word work as people expect from search boxes);
--   - pg_trgm: a trigram GIN index on content, so a query with a typo still
--     finds "similar enough" words (word_similarity).
--
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner, which
-- the app role is (scripts/pg.sh creates the database OWNER triforce), may
-- create it without being a superuser. IF NOT EXISTS: an operator may have
-- created it already, as a superuser, in a cluster where the app role does
-- not own the database.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE memories (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    namespace  text        NOT NULL DEFAULT 'default',
    key        text,                               -- optional name, unique per user and namespace
    content    text        NOT NULL,
    tags       text[]      NOT NULL DEFAULT '{}',  -- lower-cased, sorted, no duplicates (tools/memory.c)
    metadata   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The key is searchable too: an agent often names a memory by its topic.
    search     tsvector    GENERATED ALWAYS AS (to_tsvector('english', coalesce(key, '') || ' ' || content)) STORED,
    PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);

-- The 12 partitions. A DO block rather than 12 statements so the modulus
-- is written once.
DO $$
BEGIN
    FOR i IN 0..11 LOOP
        EXECUTE format('CREATE TABLE memories_p%s PARTITION OF memories FOR VALUES WITH (MODULUS 12, REMAINDER %s)', i, i);
    END LOOP;
END
$$;

-- Indexes declared on the parent are created on each partition (and on any
-- partition attached later), so every partition has all of them.
--   - by key, for memory_get and memory_store's upsert; partial because
--     most memories have no key;
CREATE UNIQUE INDEX memories_key ON memories (user_id, namespace, key) WHERE key IS NOT NULL;
--   - newest first per user (memory_list, keyset pagination on created_at, id),
--     with or without a namespace;
CREATE INDEX memories_newest ON memories (user_id, created_at DESC, id DESC);
CREATE INDEX memories_ns_newest ON memories (user_id, namespace, created_at DESC, id DESC);
--   - full-text, trigram and tag searches.
CREATE INDEX memories_search ON memories USING gin (search);
CREATE INDEX memories_trgm ON memories USING gin (content gin_trgm_ops);
CREATE INDEX memories_tags ON memories USING gin (tags);

-- updated_at follows every UPDATE (the function comes from 0001_users).
-- A row trigger on a partitioned table is cloned onto each partition.
CREATE TRIGGER memories_touch_updated_at BEFORE UPDATE ON memories
    FOR EACH ROW EXECUTE FUNCTION tf_touch_updated_at();
