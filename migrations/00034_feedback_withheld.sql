-- +goose Up
-- Responses kept out of the results (feedback/respond.go, releaseForm): at the close,
-- one or two responses still waiting after results were already shown would be told
-- apart by anyone comparing the results before and after. Their authors are counted as
-- having given feedback; their answers are not kept, and the results say how many.
ALTER TABLE feedback_forms ADD COLUMN withheld integer NOT NULL DEFAULT 0 CHECK (withheld >= 0);

-- +goose Down
ALTER TABLE feedback_forms DROP COLUMN withheld;
