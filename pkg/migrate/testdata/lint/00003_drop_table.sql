-- +goose Up
DROP TABLE sessions, "Tokens" CASCADE;

-- +goose Down
CREATE TABLE sessions (id int);
