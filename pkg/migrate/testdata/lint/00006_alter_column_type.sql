-- +goose Up
ALTER TABLE users ALTER COLUMN id TYPE bigint;
ALTER TABLE users ALTER age SET DATA TYPE smallint USING age::smallint;

-- +goose Down
ALTER TABLE users ALTER COLUMN id TYPE int;
