-- A workstation's clock against the server's, as its agent last reported it (SPEC "Prevent":
-- workstation clock skew).
ALTER TABLE agents ADD COLUMN clock_offset INTEGER;
ALTER TABLE agents ADD COLUMN clock_at INTEGER;
