-- imax-gateway schema (SQLite), version 8: the tables PostgreSQL uses for message bodies shared
-- by several gateway nodes. A gateway on SQLite is one node and keeps bodies as files; the tables
-- exist so that both engines have the same schema at every version.

CREATE TABLE body_uploads (
    body_key   TEXT PRIMARY KEY,
    touched_at INTEGER NOT NULL
);
CREATE INDEX body_uploads_touched ON body_uploads (touched_at);

CREATE TABLE body_chunks (
    body_key TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (body_key, seq)
);
