-- The reports read the agents' signing self-tests of a period (store::reports::failures): the
-- one kind of event they count, among every agent's inventories and diagnoses, which grow with
-- the estate and the days. Only signing tests are indexed, by time, so a period's are a range of
-- this index instead of a pass over every event, and the other events' writes do not pay for it.
CREATE INDEX agent_events_signing_tests ON agent_events (at) WHERE kind = 'signing_test';
