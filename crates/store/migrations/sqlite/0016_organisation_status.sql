-- Whether an organisation is open, as ODS publishes it (active, closed, dormant, proposed), and
-- the day it closed: a closed practice keeps its history, and the health checks flag what still
-- points at it.
ALTER TABLE organisations ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE organisations ADD COLUMN closed_on TEXT;
