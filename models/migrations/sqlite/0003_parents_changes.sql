-- Logging an outcome on SQLite may use its operation and shift as this process last read them
-- (models/parents.go). Each batch of writes reads this one count first, and uses what was kept
-- only if the count has not moved since: any change to what an outcome is checked against, by
-- this process or another (the command line, a restore), moves it. A shift's last activity,
-- written with every outcome, does not.
CREATE TABLE parents_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO parents_changes (id, n) VALUES (1, 0);

CREATE TRIGGER operations_changed AFTER UPDATE ON operations
WHEN OLD.version IS NOT NEW.version OR OLD.force_id IS NOT NEW.force_id
  OR OLD.start_date IS NOT NEW.start_date OR OLD.end_date IS NOT NEW.end_date
  OR OLD.time_zone IS NOT NEW.time_zone
BEGIN
    UPDATE parents_changes SET n = n + 1;
END;

CREATE TRIGGER operations_deleted AFTER DELETE ON operations
BEGIN
    UPDATE parents_changes SET n = n + 1;
END;

CREATE TRIGGER shifts_changed AFTER UPDATE ON shifts
WHEN OLD.version IS NOT NEW.version OR OLD.operation_id IS NOT NEW.operation_id
  OR OLD.location_id IS NOT NEW.location_id OR OLD.officers IS NOT NEW.officers
BEGIN
    UPDATE parents_changes SET n = n + 1;
END;

CREATE TRIGGER shifts_deleted AFTER DELETE ON shifts
BEGIN
    UPDATE parents_changes SET n = n + 1;
END;
