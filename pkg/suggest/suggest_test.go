package suggest

import "testing"

func TestNearest(t *testing.T) {
	names := []string{"DEPLOYCTL_TRAFFIC_LOCAL_LISTEN", "DEPLOYCTL_BACKUP_STORAGE_PATH", "JWT_SECRET"}
	for in, want := range map[string]string{
		"DEPLOYCTL_TRAFIC_LOCAL_LISTEN": "DEPLOYCTL_TRAFFIC_LOCAL_LISTEN",
		"jwt_secrte":                    "JWT_SECRET",
		"DEPLOYCTL_SOMETHING_ELSE":      "",
	} {
		if got := Nearest(in, names, 2); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("distance %d", d)
	}
}
