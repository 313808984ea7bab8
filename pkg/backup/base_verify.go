package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// verifyBase verifies base backup m: at level checksum the sha256 of every
// stored file; at level archive the tar is also extracted into a temporary
// folder and pg_verifybackup checks it against PostgreSQL's own
// backup_manifest (and parses its WAL); at level restore a scratch
// PostgreSQL is started on it, recovers to the end of the archive (the WAL
// inside the backup, then what o.RestoreCommand fetches), and must end up
// consistent at or past the backup's stop LSN. The folder and the server
// are removed and stopped whatever happens (Ctrl-C included); a verify
// killed outright leaves them to the next verify.
func (e *Engine) verifyBase(ctx context.Context, m *Manifest, o VerifyOptions, res *VerifyResult) (string, error) {
	if m.Base == nil {
		return "", problemf("the manifest of base backup %s has no base section", m.ID)
	}
	if o.Level == LevelChecksum {
		return fmt.Sprintf("size and sha256 of its %d files match", len(m.Base.Files)), e.checkFiles(ctx, m)
	}
	if err := e.checkFiles(ctx, m); err != nil {
		return "", err
	}
	res.CleanedUp = append(res.CleanedUp, removeStaleScratchDirs(o.TempDir)...)
	tmp, err := os.MkdirTemp(o.TempDir, fmt.Sprintf("%s%d-", scratchDirPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	data, sock := filepath.Join(tmp, "data"), filepath.Join(tmp, "run")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return "", err
	}
	if err := e.extractBase(ctx, m, data, o.Identities); err != nil {
		return "", err
	}
	if err := e.pgVerifybackup(ctx, m, data); err != nil {
		return "", err
	}
	if o.Level == LevelArchive {
		return fmt.Sprintf("size and sha256 of its %d files match, pg_verifybackup checks the restored copy", len(m.Base.Files)), nil
	}
	if err := writeRecovery(data, m, PITROptions{Target: RecoveryTarget{Latest: true}, RestoreCommand: o.RestoreCommand}); err != nil {
		return "", err
	}
	if err := e.probeRestoreCommand(ctx, o); err != nil {
		return "", err
	}
	reached, err := e.recoverScratch(ctx, m, data, sock, o.RunAs)
	res.Reached = reached
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("size and sha256 of its %d files match, pg_verifybackup checks the restored copy, a scratch PostgreSQL recovered it to a consistent state at LSN %s (stop LSN %s)",
		len(m.Base.Files), reached, m.Base.StopLSN), nil
}

// checkFiles reads every stored file of m and compares size and sha256.
func (e *Engine) checkFiles(ctx context.Context, m *Manifest) error {
	var found problems
	for _, f := range m.Base.Files {
		one := *m
		one.Object, one.SizeBytes, one.SHA256 = f.Object, f.SizeBytes, f.SHA256
		meter := e.meter("verify "+f.Object, f.SizeBytes)
		d, err := openDump(ctx, e.Store, &one, nil, meter, false)
		if err == nil {
			err = d.finish()
		}
		meter.Done()
		if p, ok := err.(*ProblemError); ok {
			found = append(found, p.Msg)
		} else if err != nil {
			return err
		}
	}
	if len(found) > 0 {
		return found
	}
	return nil
}

// pgVerifybackup checks the extracted copy in dir against backup_manifest.
func (e *Engine) pgVerifybackup(ctx context.Context, m *Manifest, dir string) error {
	args := []string{"--quiet"}
	if !m.Base.WALIncluded {
		args = append(args, "--no-parse-wal")
	}
	pg := newLocalTool(ctx, e.Tools.verifybackup(m.ServerVersion), append(args, dir)...)
	stage := e.meter("verify "+m.ID+": pg_verifybackup", -1)
	err := pg.cmd.Run()
	stage.Done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		if _, ok := err.(*os.PathError); ok {
			return fmt.Errorf("run %s: %w (install the PostgreSQL server package, or set its folder)", pg.name, err)
		}
		return problemf("pg_verifybackup finds the restored copy of %s damaged: %v", m.ID, pg.err(err))
	}
	return nil
}

// recoverScratch starts a scratch server on data, waits until it has
// recovered and ended recovery, and checks the point it reached.
func (e *Engine) recoverScratch(ctx context.Context, m *Manifest, data, sock, runAs string) (string, error) {
	srv, err := e.startScratch(ctx, data, sock, m.ServerVersion, connRole(m.Database), runAs)
	if err != nil {
		return "", err
	}
	defer srv.stop()
	stage := e.meter("verify "+m.ID+": a scratch PostgreSQL replays the WAL", -1)
	conn, err := srv.waitPromoted(ctx)
	stage.Done()
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var reached string
	if err := conn.QueryRow(ctx, "SELECT coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text").Scan(&reached); err != nil {
		return "", fmt.Errorf("read the point the restored copy reached: %w", err)
	}
	got, err1 := ParseLSN(reached)
	want, err2 := ParseLSN(m.Base.StopLSN)
	if err1 != nil || err2 != nil || got < want {
		return reached, problemf("the restored copy of %s recovered only to LSN %q, before the backup's stop LSN %s", m.ID, reached, m.Base.StopLSN)
	}
	return reached, nil
}

// probeRestoreCommand checks, when deployctl runs as root and the scratch
// server as another user, that this user can run the restore command's
// program: PostgreSQL stops recovery for good on "command not executable".
func (e *Engine) probeRestoreCommand(ctx context.Context, o VerifyOptions) error {
	u, err := serverUser(o.RunAs)
	if err != nil || u == nil || o.RestoreCommand == "" {
		return err
	}
	prog := strings.Trim(strings.Fields(o.RestoreCommand)[0], "'")
	probe := newLocalTool(ctx, prog, "--version")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	runAs(probe.cmd, uid, gid)
	if err := probe.cmd.Run(); err != nil {
		return fmt.Errorf("the scratch PostgreSQL runs as %s (deployctl runs as root), which cannot run %s, its restore_command (%v): install deployctl where %s can run it, with the config folder and the storage readable by it",
			u.Username, prog, probe.err(err), u.Username)
	}
	return nil
}
