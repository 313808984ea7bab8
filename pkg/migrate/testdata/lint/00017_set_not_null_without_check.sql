-- +goose Up
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_total_nn CHECK (total IS NOT NULL) NOT VALID;
-- not validated yet: SET NOT NULL still scans the table
ALTER TABLE orders ALTER COLUMN total SET NOT NULL;
-- a check on another column does not help
ALTER TABLE orders ALTER user_id SET NOT NULL;

-- +goose Down
ALTER TABLE orders ALTER COLUMN user_id DROP NOT NULL, ALTER COLUMN total DROP NOT NULL, DROP CONSTRAINT orders_total_nn;
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
