-- +goose Up
ALTER TABLE users DROP COLUMN legacy_name,
  DROP CONSTRAINT users_legacy_check;

-- +goose Down
ALTER TABLE users ADD COLUMN legacy_name text;
