-- +goose Up
TRUNCATE TABLE events RESTART IDENTITY;

-- +goose Down
SELECT 1;
