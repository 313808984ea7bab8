-- +goose Up
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE orders ADD CHECK (total >= 0);
ALTER TABLE orders ADD CONSTRAINT orders_total_ok CHECK (total < 1000000) NOT VALID;

-- +goose Down
ALTER TABLE orders DROP CONSTRAINT orders_user_fk;
