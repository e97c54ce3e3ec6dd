-- imax-gateway schema (PostgreSQL), version 7: failed authentications per client address, in the database
-- so that every gateway node sharing it throttles alike.

CREATE TABLE auth_throttle (
    client_addr  TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);
CREATE INDEX auth_throttle_window ON auth_throttle (window_start);
