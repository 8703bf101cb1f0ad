-- +goose Up
-- The SHA-256 of each certificate's token, kept beside it. Verifying a certificate
-- asks whether Huddle's record holds exactly the token presented, and the public page
-- keys its cache on the token's digest; with the digest stored, neither sends the
-- 3 KB token to or from PostgreSQL, nor reads and hashes it again. A trigger writes
-- it whenever a token is written, by this release or the one before it during a
-- rolling deploy, so it cannot disagree with the token. (A generated column cannot:
-- convert_to, which gives the token's bytes, is not immutable.)
ALTER TABLE certificates ADD COLUMN jws_sha256 bytea;
UPDATE certificates SET jws_sha256 = sha256(convert_to(jws, 'UTF8'));
ALTER TABLE certificates ALTER COLUMN jws_sha256 SET NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION certificates_jws_sha256() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.jws_sha256 := sha256(convert_to(NEW.jws, 'UTF8'));
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER certificates_jws_sha256 BEFORE INSERT OR UPDATE OF jws ON certificates
    FOR EACH ROW EXECUTE FUNCTION certificates_jws_sha256();

-- +goose Down
DROP TRIGGER certificates_jws_sha256 ON certificates;
DROP FUNCTION certificates_jws_sha256();
ALTER TABLE certificates DROP COLUMN jws_sha256;
