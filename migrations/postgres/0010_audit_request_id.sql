-- The id of the request that made an audit record (its X-Request-Id, and requestId in SOAP
-- faults), so that a vendor's support call is matched to the record.
ALTER TABLE audit_log ADD COLUMN request_id TEXT;
