-- What agents report (issue 6): each event once, whatever the retries (the agent's event id is
-- unique per agent).
CREATE TABLE agent_events (
    agent_id    TEXT COLLATE "C" NOT NULL,
    event_id    TEXT COLLATE "C" NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, event_id)
);
CREATE INDEX agent_events_at ON agent_events (agent_id, at);
