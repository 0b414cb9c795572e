-- What the MCP client declared at initialize (sampling, elicitation, roots),
-- as TF_MCP_CAP_* bits: tools may ask it only for what it can answer.
ALTER TABLE mcp_sessions ADD COLUMN client_caps integer NOT NULL DEFAULT 0;
