package backup_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
)

func TestEncryptedBackupOnS3(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 800)
	srv := s3test.Start(t)
	st, err := s3store.New(t.Context(), s3store.Settings{Bucket: srv.NewBucket(t), Prefix: "prod", Endpoint: srv.URL, PathStyle: true, Region: s3test.Region}, s3test.Options(srv.URL))
	must(t, err)
	id, err := age.GenerateX25519Identity()
	must(t, err)
	other, _ := age.GenerateX25519Identity()
	e, _ := newEngine(t)
	e.Store = st

	m, err := e.Create(t.Context(), backup.CreateOptions{DatabaseURL: url, Recipients: []string{id.Recipient().String()}})
	must(t, err)
	if m.Encryption == nil || m.Encryption.Recipients[0] != backup.Fingerprint(id.Recipient().String()) || !strings.HasSuffix(m.Object, ".age") {
		t.Fatalf("manifest does not describe the encryption: %+v %s", m.Encryption, m.Object)
	}
	head := readHead(t, st, m.Object)
	if !bytes.HasPrefix(head, []byte("age-encryption.org/v1")) {
		t.Fatalf("stored dump is not an age file: %q", head[:20])
	}

	verify := func(level string, ids ...age.Identity) *backup.VerifyResult {
		t.Helper()
		res, err := e.Verify(t.Context(), m, backup.VerifyOptions{Level: level, ServerURL: url, Identities: ids})
		must(t, err)
		return res
	}
	if res := verify(backup.LevelChecksum); !res.Verification.OK {
		t.Errorf("checksum needs no key, but failed: %q", res.Problems)
	}
	if res := verify(backup.LevelRestore); res.Verification.OK || !strings.Contains(res.Problems[0], "identity_file") {
		t.Errorf("restore level without a key: %q", res.Problems)
	}
	if res := verify(backup.LevelRestore, other); res.Verification.OK || !strings.Contains(res.Problems[0], "cannot decrypt") {
		t.Errorf("restore level with the wrong key: %q", res.Problems)
	}
	if res := verify(backup.LevelRestore, id); !res.Verification.OK {
		t.Errorf("restore level with the key: %q", res.Problems)
	}
	list, err := backup.List(t.Context(), st)
	if err != nil || len(list) != 1 || list[0].Verification == nil || !list[0].Verification.OK {
		t.Fatalf("list on S3: %+v, %v", list, err)
	}
	dst := pg.NewDatabase(t)
	res, err := e.Restore(t.Context(), m, backup.RestoreOptions{TargetURL: dst, Identities: []age.Identity{id}})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("restore from S3: %+v, %v", res, err)
	}
}

func readHead(t *testing.T, st provider.BackupStore, name string) []byte {
	t.Helper()
	rc, err := st.Get(t.Context(), name)
	must(t, err)
	defer rc.Close()
	b := make([]byte, 64)
	_, err = io.ReadFull(rc, b)
	must(t, err)
	return b
}

func TestCreateRefusesBadRecipient(t *testing.T) {
	e, st := newEngine(t)
	if _, err := e.Create(t.Context(), backup.CreateOptions{DatabaseURL: pg.NewDatabase(t), Recipients: []string{"age1notakey"}}); err == nil {
		t.Fatal("a malformed recipient was accepted")
	}
	if objs, _ := st.List(t.Context(), ""); len(objs) != 0 {
		t.Fatalf("a refused create left %v", objs)
	}
}
