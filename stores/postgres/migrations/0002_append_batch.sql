-- eventsmith PostgreSQL store, schema version 2: several appends in one call and one commit.
--
-- The store's writer gathers the appends that arrive while a call is in flight and makes them
-- one call of this function: one round trip and one commit for all of them. Each append runs
-- eventsmith_append (same checks, same lock, same order) in a block of its own, so that one
-- append's conflict or duplicate rolls back that append only.
--
-- Appends are given as parallel arrays; p_counts[i] events of p_ids etc. belong to append i.
-- status: 0 appended (or acknowledged as a retry), 1 version conflict (detail: the actual
-- version), 2 duplicate event id (detail: the id).
CREATE FUNCTION eventsmith_append_batch(
    p_streams text[], p_expected_kinds smallint[], p_expected bigint[], p_counts integer[],
    p_ids uuid[], p_types text[], p_versions integer[], p_payloads bytea[], p_metadata bytea[],
    p_channel text, p_lock bigint)
RETURNS TABLE (status smallint, detail text, first_version bigint, positions bigint[], recorded_at timestamptz,
               already_stored boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_low integer := 1;
    v_high integer;
    v_state text;
    v_detail text;
    v_row record;
BEGIN
    FOR i IN 1 .. cardinality(p_streams) LOOP
        v_high := v_low + p_counts[i] - 1;
        BEGIN
            SELECT * INTO v_row FROM eventsmith_append(
                p_streams[i], p_expected_kinds[i], p_expected[i],
                p_ids[v_low:v_high], p_types[v_low:v_high], p_versions[v_low:v_high],
                p_payloads[v_low:v_high], p_metadata[v_low:v_high], p_channel, p_lock);
            status := 0;
            detail := NULL;
            first_version := v_row.first_version;
            positions := v_row.positions;
            recorded_at := v_row.recorded_at;
            already_stored := v_row.already_stored;
        EXCEPTION WHEN SQLSTATE 'ES409' OR SQLSTATE 'ES422' OR unique_violation THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL;
            status := CASE WHEN v_state = 'ES409' THEN 1 ELSE 2 END;
            detail := v_detail;
            first_version := NULL;
            positions := NULL;
            recorded_at := NULL;
            already_stored := NULL;
        END;
        RETURN NEXT;
        v_low := v_high + 1;
    END LOOP;
END $$;
