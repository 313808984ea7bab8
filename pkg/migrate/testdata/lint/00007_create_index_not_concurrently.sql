-- +goose Up
CREATE INDEX users_email ON users (email);
CREATE UNIQUE INDEX IF NOT EXISTS users_name ON ONLY public.users USING btree (name);

-- +goose Down
DROP INDEX users_email;
DROP INDEX users_name;
