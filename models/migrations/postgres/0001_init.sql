-- The operation record, its event log, idempotency keys, accounts, sessions, tokens and audit trail.
CREATE TABLE forces (
    id          BIGSERIAL PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE operations (
    id               BIGSERIAL PRIMARY KEY,
    force_id         BIGINT NOT NULL REFERENCES forces(id),
    name             TEXT NOT NULL,
    theme            TEXT NOT NULL,
    start_date       TEXT NOT NULL,
    end_date         TEXT NOT NULL,
    time_zone        TEXT NOT NULL,
    status           TEXT NOT NULL,
    partner_agencies TEXT NOT NULL DEFAULT '[]',
    targets          TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    created_by       TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX operations_force_start ON operations (force_id, start_date);

CREATE TABLE locations (
    id           BIGSERIAL PRIMARY KEY,
    operation_id BIGINT NOT NULL REFERENCES operations(id),
    force_id     BIGINT NOT NULL REFERENCES forces(id),
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    road         TEXT NOT NULL DEFAULT '',
    junction     TEXT NOT NULL DEFAULT '',
    latitude     DOUBLE PRECISION NOT NULL,
    longitude    DOUBLE PRECISION NOT NULL,
    notes        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    version      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX locations_operation ON locations (operation_id);

CREATE TABLE shifts (
    id               BIGSERIAL PRIMARY KEY,
    operation_id     BIGINT NOT NULL REFERENCES operations(id),
    force_id         BIGINT NOT NULL REFERENCES forces(id),
    location_id      BIGINT NOT NULL REFERENCES locations(id),
    starts_at        TIMESTAMPTZ NOT NULL,
    ends_at          TIMESTAMPTZ NOT NULL,
    officers         TEXT NOT NULL DEFAULT '[]',
    partner_agencies TEXT NOT NULL DEFAULT '[]',
    status           TEXT NOT NULL,
    last_activity_at TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    created_by       TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX shifts_operation_start ON shifts (operation_id, starts_at);

CREATE TABLE outcomes (
    id               BIGSERIAL PRIMARY KEY,
    operation_id     BIGINT NOT NULL REFERENCES operations(id),
    force_id         BIGINT NOT NULL REFERENCES forces(id),
    shift_id         BIGINT NOT NULL REFERENCES shifts(id),
    location_id      BIGINT NOT NULL REFERENCES locations(id),
    occurred_at      TIMESTAMPTZ NOT NULL,
    day              TEXT NOT NULL,
    measure          TEXT NOT NULL,
    count            BIGINT NOT NULL,
    indicators       TEXT NOT NULL DEFAULT '[]',
    leaflet_language TEXT NOT NULL DEFAULT '',
    partner_agency   TEXT NOT NULL DEFAULT '',
    vehicle_reg      TEXT NOT NULL DEFAULT '',
    notes            TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    created_by       TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX outcomes_operation_id ON outcomes (operation_id, id);
CREATE INDEX outcomes_operation_day_measure ON outcomes (operation_id, day, measure);
CREATE INDEX outcomes_force_day ON outcomes (force_id, day);
CREATE INDEX outcomes_shift ON outcomes (shift_id);

-- The transactional outbox: one row per committed change, ids in commit order.
CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    force_id     BIGINT NOT NULL,
    operation_id BIGINT NOT NULL,
    type         TEXT NOT NULL,
    entity_id    BIGINT NOT NULL,
    data         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL,
    force_id       BIGINT REFERENCES forces(id),
    password_hash  TEXT NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    locked_until   TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    version        BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id),
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

-- Append-only: the application never updates or deletes these rows.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    user_id     BIGINT,
    username    TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT '',
    force_id    BIGINT,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL DEFAULT '',
    entity_id   BIGINT,
    changes     TEXT NOT NULL DEFAULT '{}',
    request_id  TEXT NOT NULL DEFAULT '',
    client_addr TEXT NOT NULL DEFAULT '',
    result      TEXT NOT NULL
);
CREATE INDEX audit_log_force_at ON audit_log (force_id, at);
