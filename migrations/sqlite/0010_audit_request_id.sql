-- The id of the request that made an audit record (its X-Request-Id, and requestId in SOAP
-- faults), so that a vendor's support call is matched to the record.
ALTER TABLE audit_log ADD COLUMN request_id TEXT;

-- Rolling upgrades: the oldest binary schema version that may keep running on each version
-- (NULL: only that version's own binaries). See src/store/migrate.rs.
ALTER TABLE schema_version ADD COLUMN compatible_back_to BIGINT;
