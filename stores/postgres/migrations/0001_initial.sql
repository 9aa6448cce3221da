-- eventsmith PostgreSQL store, schema version 1.
-- Runs with search_path set to the store's schema (bound as a parameter, never spliced in),
-- inside one transaction.

CREATE TABLE eventsmith_schema (
    version integer NOT NULL
);

CREATE TABLE events (
    -- Handed out only by eventsmith_append, under a store-wide transaction lock: the order of
    -- positions is the order of commits (see eventsmith_append).
    position       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    stream_id      text        NOT NULL,
    stream_version bigint      NOT NULL,
    event_type     text        NOT NULL,
    event_version  integer     NOT NULL,
    payload        bytea       NOT NULL,
    metadata       bytea,
    recorded_at    timestamptz NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_type ON events (event_type, position);

CREATE TABLE checkpoints (
    name     text PRIMARY KEY,
    position bigint NOT NULL,
    state    bytea
);

CREATE TABLE snapshots (
    stream_id   text PRIMARY KEY,
    version     bigint NOT NULL,
    fingerprint text   NOT NULL,
    state       bytea  NOT NULL
);

-- Events are immutable once written.
CREATE FUNCTION eventsmith_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'ES403', MESSAGE = 'eventsmith events are immutable';
END $$;

CREATE TRIGGER events_are_immutable BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION eventsmith_immutable();
CREATE TRIGGER events_cannot_be_truncated BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION eventsmith_immutable();

-- The earlier append that `ids` repeat, if all of them are stored in `stream` at consecutive
-- versions in this order; no row if none is stored; ES422 if only some are, or elsewhere.
CREATE FUNCTION eventsmith_earlier_append(p_stream text, p_ids uuid[])
RETURNS TABLE (first_version bigint, positions bigint[], recorded_at timestamptz, already_stored boolean)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    v_found integer;
    v_offsets integer;
    v_same_stream boolean;
    v_first bigint;
    v_positions bigint[];
    v_at timestamptz;
    v_duplicate uuid;
BEGIN
    SELECT count(*)::integer, count(DISTINCT e.stream_version - i.n)::integer, bool_and(e.stream_id = p_stream),
           min(e.stream_version), array_agg(e.position ORDER BY i.n), min(e.recorded_at),
           (array_agg(e.event_id ORDER BY i.n))[1]
      INTO v_found, v_offsets, v_same_stream, v_first, v_positions, v_at, v_duplicate
      FROM unnest(p_ids) WITH ORDINALITY AS i(id, n)
      JOIN events e ON e.event_id = i.id;
    IF v_found = 0 THEN
        RETURN;
    END IF;
    IF v_found = cardinality(p_ids) AND v_offsets = 1 AND v_same_stream THEN
        RETURN QUERY SELECT v_first, v_positions, v_at, true;
        RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'ES422', MESSAGE = 'an event id is already stored', DETAIL = v_duplicate::text;
END $$;

-- Appends a batch to a stream, atomically, if the stream is at the expected version.
--
-- Order: the store-wide transaction lock (p_lock) is taken first, and positions are taken
-- only while holding it. PostgreSQL makes a transaction visible before it releases its
-- locks, so every transaction that took smaller positions is committed or rolled back before
-- a larger position exists: a reader that sees position p has everything below p it will
-- ever see. The expected version is checked before any position is taken.
--
-- p_expected_kind: 0 any, 1 no stream, 2 stream exists, 3 exactly p_expected.
CREATE FUNCTION eventsmith_append(
    p_stream text, p_expected_kind smallint, p_expected bigint,
    p_ids uuid[], p_types text[], p_versions integer[], p_payloads bytea[], p_metadata bytea[],
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
            INSERT INTO events (event_id, stream_id, stream_version, event_type, event_version, payload, metadata, recorded_at)
            SELECT i.id, p_stream, v_actual + i.n, i.t, i.v, i.p, i.m, v_now
              FROM unnest(p_ids, p_types, p_versions, p_payloads, p_metadata) WITH ORDINALITY AS i(id, t, v, p, m, n)
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

-- LISTEN on a channel given as a parameter (LISTEN itself takes only an identifier).
CREATE FUNCTION eventsmith_listen(p_channel text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('LISTEN %I', p_channel);
END $$;
