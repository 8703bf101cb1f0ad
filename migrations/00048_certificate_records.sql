-- +goose Up
-- certificate_records answers a batch of verifications (certificates/records.go): for
-- each certificate id, by its position (1-based), the record as recordColumns in
-- certificates/verify.go reads it, whether it holds the token whose SHA-256 is given,
-- and its credential where asked for. An unknown id has no row. A function, as
-- programme_feed_checks is (00045), so that PostgreSQL keeps one plan for it instead
-- of planning the array lookup again at every batch. Its columns follow the record's:
-- a column added to the record is added here too.
-- +goose StatementBegin
CREATE FUNCTION certificate_records(p_ids uuid[], p_digests bytea[], p_credentials boolean[])
RETURNS TABLE (i bigint, id text, code text, activity_id bigint, user_id bigint, subject_id text,
    learner_name text, registration_number text, achievement_name text, course_title text,
    organisation text, cpd_hours float8, signatory_name text, signatory_role text,
    valid_from timestamptz, valid_until timestamptz, key_id text, revoked_at timestamptz,
    revoked_reason text, replaced_by text, same boolean, credential text)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT q.i, c.id::text, c.code, coalesce(c.activity_id, 0), coalesce(c.user_id, 0), c.subject_id::text,
        c.learner_name, c.registration_number, c.achievement_name, c.course_title, c.organisation,
        c.cpd_hours::float8, c.signatory_name, c.signatory_role, c.valid_from, c.valid_until, c.key_id,
        c.revoked_at, c.revoked_reason, coalesce(c.replaced_by::text, ''),
        c.jws_sha256 = q.digest, CASE WHEN q.with_credential THEN c.credential::text END
    FROM unnest(p_ids, p_digests, p_credentials) WITH ORDINALITY AS q (id, digest, with_credential, i)
    JOIN certificates c ON c.id = q.id;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION certificate_records(uuid[], bytea[], boolean[]);
