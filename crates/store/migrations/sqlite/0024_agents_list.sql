-- The agents' list (issue 26): a page is read by keyset in the list's order, newest enrolment
-- first and then by id, continuing from the last agent shown; this index holds that order, so
-- a page is a short range of it in either direction, never a sort of every agent.
CREATE INDEX agents_enrolled_list ON agents (enrolled_at DESC, id);
