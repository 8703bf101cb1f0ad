-- +goose Up
-- Certificates (issue 15): Open Badges 3.0 credentials Huddle signs, the keys it signs
-- them with, what each certificate activity requires, and the revocation list.

-- Issuing keys are separate from the LTI tool keys (tool_keys): a tool key signs
-- short-lived messages to Moodle and is unpublished after a grace period, while an
-- issuing key must stay published for as long as any certificate it signed may be
-- shown to someone, so it is never unpublished. The private half is sealed with
-- HUDDLE_SECRET_KEY (purpose "issuing-key").
CREATE TABLE issuing_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The path segment of the key's URL: {base}/certificates/keys/{key_id}. The JWS kid
    -- is that whole https URL.
    key_id       text NOT NULL UNIQUE CHECK (key_id ~ '^[a-z0-9]{16,64}$'),
    private_key  bytea NOT NULL,
    public_jwk   jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    -- Set when a newer key takes over signing; the key stays published for good.
    retired_at   timestamptz
);

-- One certificate activity's definition. Requirements are an AND list of
-- {"kind": ..., ...} objects (certificates.Requirement); new kinds need no migration.
CREATE TABLE certificate_definitions (
    activity_id     bigint PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    cpd_hours       numeric(6, 2) NOT NULL DEFAULT 0 CHECK (cpd_hours >= 0),
    organisation    text NOT NULL,
    signatory_name  text NOT NULL DEFAULT '',
    signatory_role  text NOT NULL DEFAULT '',
    expiry_months   integer CHECK (expiry_months IS NULL OR expiry_months BETWEEN 1 AND 600),
    requirements    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(requirements) = 'array'),
    updated_at      timestamptz NOT NULL
);

-- Every credential Huddle signed. The row keeps what a verifier needs (the credential
-- itself, its dates and status) so a certificate still verifies after its learner is
-- erased: erasure sets user_id to NULL and blanks learner_name and
-- registration_number; the signed credential names nobody (credentialSubject carries
-- an opaque urn:uuid and a salted hash of the email, never the name or the email).
CREATE TABLE certificates (
    -- The credential's id is urn:uuid:{id}.
    id                   uuid PRIMARY KEY,
    -- The short code people type or scan: /verify/{code}.
    code                 text NOT NULL UNIQUE CHECK (code ~ '^[A-Z2-9]{10}$'),
    activity_id          bigint REFERENCES activities (id) ON DELETE SET NULL,
    user_id              bigint REFERENCES users (id) ON DELETE SET NULL,
    -- credentialSubject.id (urn:uuid) and the JWT sub; one per learner and activity,
    -- kept across re-issues.
    subject_id           uuid NOT NULL,
    learner_name         text NOT NULL DEFAULT '',
    registration_number  text NOT NULL DEFAULT '',
    -- What was certified, as signed, for the verification page.
    achievement_name     text NOT NULL,
    course_title         text NOT NULL DEFAULT '',
    organisation         text NOT NULL,
    cpd_hours            numeric(6, 2) NOT NULL DEFAULT 0,
    signatory_name       text NOT NULL DEFAULT '',
    signatory_role       text NOT NULL DEFAULT '',
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz,
    key_id               text NOT NULL REFERENCES issuing_keys (key_id),
    -- The compact JWS (VC-JWT) as issued, and its payload for the .json download.
    jws                  text NOT NULL,
    credential           jsonb NOT NULL,
    revoked_at           timestamptz,
    -- The educator's reason, shown on the public verification page: a plain sentence
    -- about the certificate ("issued in error"), which the form asks to keep free of
    -- personal details.
    revoked_reason       text NOT NULL DEFAULT '',
    -- Set when a re-issue replaced this certificate (which is then revoked too).
    replaced_by          uuid REFERENCES certificates (id),
    created_at           timestamptz NOT NULL,
    CHECK ((revoked_at IS NULL) = (revoked_reason = ''))
);
-- At most one live certificate per learner and activity: automatic issue is
-- idempotent because a second insert for the same pair fails here.
CREATE UNIQUE INDEX certificates_one_live ON certificates (activity_id, user_id)
    WHERE revoked_at IS NULL AND user_id IS NOT NULL;
CREATE INDEX certificates_user ON certificates (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;

-- Learners' optional professional registration (GMC, NMC or HCPC), entered once and
-- printed on their certificates.
CREATE TABLE certificate_registrations (
    user_id   bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    body      text NOT NULL CHECK (body IN ('GMC', 'NMC', 'HCPC')),
    number    text NOT NULL CHECK (number ~ '^[A-Za-z0-9]{1,12}$'),
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE certificate_registrations;
DROP TABLE certificates;
DROP TABLE certificate_definitions;
DROP TABLE issuing_keys;
