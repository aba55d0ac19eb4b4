-- What agents report (issue 6): each event once, whatever the retries (the agent's event id is
-- unique per agent).
CREATE TABLE agent_events (
    agent_id    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, event_id)
) WITHOUT ROWID;
CREATE INDEX agent_events_at ON agent_events (agent_id, at);
