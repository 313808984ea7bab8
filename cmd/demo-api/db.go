package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres"
)

// dbCheck keeps one connection and pings it; a failed ping drops it so the
// next check reconnects (the database may have come back meanwhile).
type dbCheck struct {
	url     string
	timeout time.Duration
	mu      sync.Mutex
	conn    *pgx.Conn
}

func (d *dbCheck) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		if d.conn.Ping(ctx) == nil {
			return nil
		}
		d.dropLocked()
	}
	conn, err := postgres.Connect(ctx, d.url)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errors.New("database did not answer within " + d.timeout.String())
		}
		return err // postgres.Connect never includes the password
	}
	d.conn = conn
	return nil
}

func (d *dbCheck) dropLocked() {
	if d.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_ = d.conn.Close(ctx)
		cancel()
		d.conn = nil
	}
}

func (d *dbCheck) close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropLocked()
}
