-- +goose Up
-- A platform is one LMS site (a Moodle site) that launches Huddle: its issuer and the
-- client_id it gave Huddle identify it; its endpoints are where Huddle talks back.
CREATE TABLE platforms (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer      text NOT NULL,
    client_id   text NOT NULL,
    auth_url    text NOT NULL,
    token_url   text NOT NULL,
    jwks_url    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, client_id)
);

-- Moodle uses the tool type id as the deployment id; a platform may have several.
CREATE TABLE platform_deployments (
    platform_id   bigint NOT NULL REFERENCES platforms (id) ON DELETE CASCADE,
    deployment_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, deployment_id)
);

-- +goose Down
DROP TABLE platform_deployments;
DROP TABLE platforms;
