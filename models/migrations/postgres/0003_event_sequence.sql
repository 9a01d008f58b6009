-- Event ids are given after commit, by one short transaction that many writers share
-- (models/settle.go), so that no writer holds a lock across its COMMIT and commits can be
-- flushed to the WAL together. seq is the order of insertion; id is the order of delivery,
-- NULL until the event is settled.
ALTER TABLE events ADD COLUMN seq BIGSERIAL;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (seq);
ALTER TABLE events ALTER COLUMN id DROP DEFAULT;
ALTER TABLE events ALTER COLUMN id DROP NOT NULL;
DROP SEQUENCE events_id_seq;
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_unsettled ON events (seq) WHERE id IS NULL;
