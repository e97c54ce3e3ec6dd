-- imax-gateway schema (PostgreSQL), version 8: message bodies in the database, so that every
-- gateway node sharing it reads every body.
--
-- A body is written in chunks of about 256 KiB as it arrives (memory stays bounded), each chunk
-- committed on its own. While a body has no message row it is listed in body_uploads; the
-- transaction that commits the message row deletes that entry, so "listed here" means "not
-- (yet) a message", and an entry untouched for long is a leftover of a stopped node, swept by
-- age by whichever node gets there first.

CREATE TABLE body_uploads (
    body_key   TEXT PRIMARY KEY,
    touched_at BIGINT NOT NULL
);
CREATE INDEX body_uploads_touched ON body_uploads (touched_at);

CREATE TABLE body_chunks (
    body_key TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (body_key, seq)
);
-- Stored out of line without compression: chunks are written once and streamed back, and
-- compressing 256 KiB on every write costs more CPU than the disk it would save.
ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
