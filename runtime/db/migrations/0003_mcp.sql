-- MCP sessions (Streamable HTTP, Mcp-Session-Id): kept here so a session
-- survives a restart and works on any gateway node.
CREATE TABLE mcp_sessions (
    id               text        PRIMARY KEY,
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    protocol_version text        NOT NULL,
    client_info      jsonb       NOT NULL DEFAULT '{}',
    log_level        text        NOT NULL DEFAULT 'info',
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seen        timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz
);
CREATE INDEX mcp_sessions_user ON mcp_sessions (user_id);
