-- An edited outcome's event keeps what it counted before, so live national totals can move by the difference.
ALTER TABLE events ADD COLUMN previous TEXT NOT NULL DEFAULT '';
CREATE INDEX events_created_at ON events (created_at);
