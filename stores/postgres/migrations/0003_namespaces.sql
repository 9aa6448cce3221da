-- eventsmith PostgreSQL store, schema version 3: the namespace of each event's type name.
--
-- Two event enums may both have a type named `Created`; the namespace (the enum's, by
-- default its Rust name) tells them apart, so that a projection never takes another enum's
-- `Created` for its own. Events stored before this version have none (NULL) and are read by
-- type name alone, as before.

ALTER TABLE events ADD COLUMN namespace text;

-- eventsmith_append (version 1) with the events' namespaces in p_namespaces. Same lock, same
-- checks, same order; see version 1 for why positions are taken under the lock.
CREATE FUNCTION eventsmith_append(
    p_stream text, p_expected_kind smallint, p_expected bigint,
    p_ids uuid[], p_namespaces text[], p_types text[], p_versions integer[], p_payloads bytea[], p_metadata bytea[],
    p_channel text, p_lock bigint)
RETURNS TABLE (first_version bigint, positions bigint[], recorded_at timestamptz, already_stored boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_actual bigint;
    v_now timestamptz := clock_timestamp();
    v_positions bigint[];
BEGIN
    IF cardinality(p_ids) IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'ES400', MESSAGE = 'an append needs at least one event';
    END IF;
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT coalesce(max(e.stream_version), 0) INTO v_actual FROM events e WHERE e.stream_id = p_stream;
    IF NOT (p_expected_kind = 0
            OR (p_expected_kind = 1 AND v_actual = 0)
            OR (p_expected_kind = 2 AND v_actual > 0)
            OR (p_expected_kind = 3 AND v_actual = p_expected)) THEN
        RETURN QUERY SELECT * FROM eventsmith_earlier_append(p_stream, p_ids);
        IF FOUND THEN
            RETURN;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'ES409', MESSAGE = 'version conflict', DETAIL = v_actual::text;
    END IF;
    BEGIN
        WITH inserted AS (
            INSERT INTO events (event_id, stream_id, stream_version, namespace, event_type, event_version, payload,
                                metadata, recorded_at)
            SELECT i.id, p_stream, v_actual + i.n, i.ns, i.t, i.v, i.p, i.m, v_now
              FROM unnest(p_ids, p_namespaces, p_types, p_versions, p_payloads, p_metadata)
                   WITH ORDINALITY AS i(id, ns, t, v, p, m, n)
             ORDER BY i.n
            RETURNING events.position, events.stream_version)
        SELECT array_agg(inserted.position ORDER BY inserted.stream_version) INTO v_positions FROM inserted;
    EXCEPTION WHEN unique_violation THEN
        RETURN QUERY SELECT * FROM eventsmith_earlier_append(p_stream, p_ids);
        IF FOUND THEN
            RETURN;
        END IF;
        RAISE;
    END;
    PERFORM pg_notify(p_channel, v_positions[cardinality(v_positions)]::text);
    RETURN QUERY SELECT v_actual + 1, v_positions, v_now, false;
END $$;

-- eventsmith_append_batch (version 2) with the events' namespaces in p_namespaces.
CREATE FUNCTION eventsmith_append_batch(
    p_streams text[], p_expected_kinds smallint[], p_expected bigint[], p_counts integer[],
    p_ids uuid[], p_namespaces text[], p_types text[], p_versions integer[], p_payloads bytea[], p_metadata bytea[],
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
                p_ids[v_low:v_high], p_namespaces[v_low:v_high], p_types[v_low:v_high], p_versions[v_low:v_high],
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

-- The functions of versions 1 and 2 stay, for processes of an older release during an
-- upgrade: they write events without a namespace.
