-- +goose Up
ALTER TABLE users RENAME COLUMN email TO email_address;
ALTER TABLE users RENAME name TO full_name;
ALTER TABLE IF EXISTS orders RENAME TO purchases;

-- +goose Down
ALTER TABLE purchases RENAME TO orders;
ALTER TABLE users RENAME full_name TO name;
ALTER TABLE users RENAME COLUMN email_address TO email;
