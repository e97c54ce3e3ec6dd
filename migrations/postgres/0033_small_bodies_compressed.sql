-- Bodies' chunks compressed with LZ4 (issue 29). A body under 64 KiB is one chunk written in the
-- committer's batch with its message; stored out of line and uncompressed (version 8), a TRACS
-- file of 6 KB took three rows of the TOAST table and their index entries and 6 KB of WAL, most
-- of what a message cost PostgreSQL to write and to flush. LZ4 makes such a file about a tenth
-- of that, small enough to stay in its row: one row and one index entry, a tenth of the WAL.
-- LZ4 runs quickly over bytes that do not compress, and a chunk that does not shrink is stored
-- as it came. pglz, PostgreSQL's older method, costs a dozen times LZ4's CPU and is not used: a
-- server built without LZ4 (or older than PostgreSQL 14) keeps version 8's storage. Rows written
-- before stay as they are; both are read alike.

DO $$
BEGIN
  IF current_setting('server_version_num')::int >= 140000 THEN
    EXECUTE 'ALTER TABLE body_chunks ALTER COLUMN data SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTENDED';
  END IF;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END $$;
