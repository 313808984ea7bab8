-- +goose Up
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
ALTER TABLE accounts ADD PRIMARY KEY (id);
ALTER TABLE orders ADD UNIQUE (user_id, number), ADD CONSTRAINT orders_pkey PRIMARY KEY (id);

-- +goose Down
ALTER TABLE orders DROP CONSTRAINT orders_pkey, DROP CONSTRAINT orders_user_id_number_key;
ALTER TABLE accounts DROP CONSTRAINT accounts_pkey;
ALTER TABLE users DROP CONSTRAINT users_email_key;
