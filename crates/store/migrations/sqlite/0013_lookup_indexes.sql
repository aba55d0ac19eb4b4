-- Lookups by workstation that had no index: a workstation's readers (its page, triage, the
-- reports' firmware counts for a practice) and its incidents (the reports' failure rates).
CREATE INDEX readers_hostname ON readers (hostname);
CREATE INDEX incidents_hostname ON incidents (hostname, opened_at);
-- A workstation's agents: the reports count their failed signing self-tests.
CREATE INDEX agents_hostname ON agents (hostname);
