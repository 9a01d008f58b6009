-- Event ids are given by the write that inserts the events: its statement takes the next ids
-- from the one row of event_counter, whose lock it then holds through its COMMIT, so ids become
-- visible in id order and a reader asking for "id > last" never skips one (models/tx.go). This
-- replaces numbering after commit (0003), which rewrote every event's row a second time.
--
-- Number any events a stopped replica left without an id, in the order they were inserted.
WITH base AS (
    SELECT COALESCE(MAX(id), 0) AS id FROM events
), pending AS (
    SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM events WHERE id IS NULL
)
UPDATE events SET id = base.id + pending.n FROM pending, base WHERE events.seq = pending.seq;

CREATE TABLE event_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO event_counter (id, last) SELECT 1, COALESCE(MAX(id), 0) FROM events;

DROP INDEX events_unsettled;
DROP INDEX events_id;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events DROP COLUMN seq;
ALTER TABLE events ALTER COLUMN id SET NOT NULL;
ALTER TABLE events ADD PRIMARY KEY (id);
