-- +goose Up
-- A launch's state, consumed in the same round trip (and implicit transaction) as the
-- launch's first read and its session's insert (lti.PendingState). The token was
-- already verified for the platform the state names, so the state is taken only if it
-- is that platform's, holds the token's nonce, and the token's deployment is still
-- registered. Anything else raises HU001, which rolls back the whole pipeline, the
-- session's insert included; the launch handler then runs lti.Launcher.Launch, the
-- checks in their first order, which uses the state up (if it is still there) and
-- says why the launch failed.
-- +goose StatementBegin
CREATE FUNCTION lti_take_launch_state(p_state_hash bytea, p_browser_hash bytea, p_now timestamptz,
                                      p_platform_id bigint, p_nonce text, p_deployment_id text)
RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
    relay bytea;
BEGIN
    DELETE FROM lti_login_states s
    WHERE s.state_hash = p_state_hash AND s.browser_hash = p_browser_hash AND s.expires_at > p_now
      AND s.platform_id = p_platform_id AND s.nonce = p_nonce
      AND EXISTS (SELECT 1 FROM platform_deployments d
                  WHERE d.platform_id = p_platform_id AND d.deployment_id = p_deployment_id)
    RETURNING s.relay_hash INTO relay;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'login state not taken' USING ERRCODE = 'HU001';
    END IF;
    RETURN relay;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION lti_take_launch_state(bytea, bytea, timestamptz, bigint, text, text);
