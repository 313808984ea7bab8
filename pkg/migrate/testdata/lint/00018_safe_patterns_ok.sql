-- The safe forms of what the rules of 00015-00017 flag: none is a finding.
-- +goose Up
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_id_idx;
ALTER TABLE orders ADD CONSTRAINT orders_total_nn CHECK (total IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_total_nn;
ALTER TABLE orders ALTER COLUMN total SET NOT NULL;
ALTER TABLE orders RENAME CONSTRAINT orders_total_nn TO orders_total_not_null;
ALTER TABLE orders ALTER COLUMN total DROP NOT NULL;
CREATE TABLE coupons (id bigint, code text);
ALTER TABLE coupons RENAME COLUMN code TO coupon_code;
ALTER TABLE coupons ADD CONSTRAINT coupons_pkey PRIMARY KEY (id);
ALTER TABLE coupons ADD UNIQUE (coupon_code);
ALTER TABLE coupons ALTER COLUMN coupon_code SET NOT NULL;
ALTER TABLE coupons RENAME TO vouchers;
ALTER TABLE vouchers ALTER COLUMN id SET NOT NULL, ADD CONSTRAINT vouchers_code_key UNIQUE (coupon_code);

-- +goose Down
DROP TABLE vouchers;
ALTER TABLE orders RENAME CONSTRAINT orders_total_not_null TO orders_total_nn;
ALTER TABLE orders DROP CONSTRAINT orders_total_nn;
ALTER TABLE accounts DROP CONSTRAINT accounts_pkey;
ALTER TABLE users DROP CONSTRAINT users_email_key;
