-- Logging an outcome on Postgres may use its operation and shift as this replica last read
-- them (models/parents.go). The write's statement calls this function once for each outcome
-- whose operation or shift has since changed version, which aborts the statement and every row
-- it would have inserted; the write is then run again on a fresh read.
CREATE FUNCTION aidant_parents_changed() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an outcome''s operation or shift changed since it was read' USING ERRCODE = 'AD001';
END
$$;
