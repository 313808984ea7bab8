-- +goose Up
CREATE TABLE IF NOT EXISTS invoices (
  id bigint PRIMARY KEY,
  total numeric NOT NULL
);
CREATE INDEX invoices_total ON invoices (total);
ALTER TABLE invoices ADD COLUMN customer bigint NOT NULL;
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_fk FOREIGN KEY (customer) REFERENCES customers (id);
ALTER TABLE invoices ALTER COLUMN total TYPE bigint;

-- +goose Down
DROP TABLE invoices;
