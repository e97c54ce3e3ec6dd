-- imax-gateway schema (SQLite), version 33: nothing changes. PostgreSQL compresses its bodies'
-- chunks from this version on; a gateway on SQLite keeps bodies as files, and the versions of
-- both engines stay the same.

SELECT 1;
