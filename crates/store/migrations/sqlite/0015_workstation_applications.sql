-- The Spine-connected applications used at each workstation (ids from the catalogue's
-- [[applications]], separated by spaces): what decides whether it may move to Smartcard Connect.
ALTER TABLE workstations ADD COLUMN applications TEXT;
