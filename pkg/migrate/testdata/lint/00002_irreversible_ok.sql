-- +goose Up
-- deployctl:irreversible drops the legacy audit copy
DROP TABLE IF EXISTS legacy_audit;
