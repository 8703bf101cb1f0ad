-- +goose Up
-- certificate_records (00048) also answers the public page, which names a certificate
-- by the code on its PDF: each position of a batch gives an id or a code, and every
-- row carries the token's SHA-256, which the page's record cache keys on. One
-- function, so the record's columns are listed once.
DROP FUNCTION certificate_records(uuid[], bytea[], boolean[]);
-- +goose StatementBegin
CREATE FUNCTION certificate_records(p_ids uuid[], p_codes text[], p_digests bytea[], p_credentials boolean[])
RETURNS TABLE (i bigint, id text, code text, activity_id bigint, user_id bigint, subject_id text,
    learner_name text, registration_number text, achievement_name text, course_title text,
    organisation text, cpd_hours float8, signatory_name text, signatory_role text,
    valid_from timestamptz, valid_until timestamptz, key_id text, revoked_at timestamptz,
    revoked_reason text, replaced_by text, same boolean, credential text, digest bytea)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT q.i, c.id::text, c.code, coalesce(c.activity_id, 0), coalesce(c.user_id, 0), c.subject_id::text,
        c.learner_name, c.registration_number, c.achievement_name, c.course_title, c.organisation,
        c.cpd_hours::float8, c.signatory_name, c.signatory_role, c.valid_from, c.valid_until, c.key_id,
        c.revoked_at, c.revoked_reason, coalesce(c.replaced_by::text, ''),
        c.jws_sha256 = q.digest, CASE WHEN q.with_credential THEN c.credential::text END, c.jws_sha256
    FROM unnest(p_ids, p_codes, p_digests, p_credentials) WITH ORDINALITY AS q (id, code, digest, with_credential, i)
    JOIN certificates c ON c.id = coalesce(q.id, (SELECT x.id FROM certificates x WHERE x.code = q.code));
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION certificate_records(uuid[], text[], bytea[], boolean[]);
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
