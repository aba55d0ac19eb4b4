-- Agents' inventories in the estate (issue 6): the site an enrolment token places a new
-- workstation at, and what became of each agent's latest inventory.
ALTER TABLE enrolment_tokens ADD COLUMN site_ods TEXT;
ALTER TABLE agents ADD COLUMN site_ods TEXT;
ALTER TABLE agents ADD COLUMN inventory_at INTEGER;
ALTER TABLE agents ADD COLUMN inventory_note TEXT;
