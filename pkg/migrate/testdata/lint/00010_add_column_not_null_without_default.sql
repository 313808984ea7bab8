-- +goose Up
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free', ADD COLUMN note text;

-- +goose Down
ALTER TABLE users DROP COLUMN tenant_id, DROP COLUMN plan, DROP COLUMN note;
