-- imax-gateway schema (PostgreSQL), version 25: reserved for another branch's migration (the merger puts
-- that branch's 0025 here). Nothing changes.
SELECT 1;
