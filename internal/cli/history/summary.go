package history

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
)

// summary is an entry's change in a few words, as an operator says it:
// "weights 100/0 → 90/10", "maintenance on until 18:30", "version 2 → 3";
// the entry's detail follows. What it cannot put in words it shows as
// compact JSON; -o json and --wide have everything.
func summary(e provider.Entry) string {
	var s string
	switch cmd := e.Command; {
	case strings.HasPrefix(cmd, "rollout"):
		s = weightsChange(e.Before, e.After)
	case strings.HasPrefix(cmd, "maintenance"):
		s = maintenanceChange(e.After)
	case strings.HasPrefix(cmd, "migrate"):
		s = versionChange(e.Before, e.After)
	case cmd == "backup create":
		s = backupCreated(e.After)
	case cmd == "backup restore":
		s = backupRestored(e.After)
	case strings.HasPrefix(cmd, "release v"), strings.HasPrefix(cmd, "rollback v"):
		s = releaseChange(e.After)
	}
	if s == "" && e.Detail == "" {
		s = change(e)
	}
	if e.Detail != "" {
		s = strings.TrimPrefix(s+"; "+e.Detail, "; ")
	}
	return s
}

// decode turns a recorded value (a struct, or what JSON gave back) into v.
func decode(from, v any) bool {
	if from == nil {
		return false
	}
	raw, err := json.Marshal(from)
	return err == nil && json.Unmarshal(raw, v) == nil
}

func weightsChange(before, after any) string {
	var b, a map[string]int
	if !decode(after, &a) {
		return ""
	}
	w := func(m map[string]int) string { return fmt.Sprintf("%d/%d", m["blue"], m["green"]) }
	if !decode(before, &b) {
		return "weights " + w(a) + " (blue/green)"
	}
	return "weights " + w(b) + " → " + w(a)
}

func maintenanceChange(after any) string {
	var st struct {
		On      bool       `json:"on"`
		Until   *time.Time `json:"until"`
		Message string     `json:"message"`
	}
	if !decode(after, &st) {
		return ""
	}
	if !st.On {
		return "maintenance off"
	}
	s := "maintenance on"
	if st.Until != nil && !st.Until.IsZero() {
		s += " until " + st.Until.UTC().Format("2006-01-02 15:04")
	}
	return s
}

func versionChange(before, after any) string {
	version := func(v any) (string, bool) {
		var n json.Number
		if decode(v, &n) {
			return n.String(), true
		}
		var m struct {
			Version *json.Number `json:"version"`
		}
		if decode(v, &m) && m.Version != nil {
			return m.Version.String(), true
		}
		return "", false
	}
	a, ok := version(after)
	if !ok {
		return ""
	}
	if b, ok := version(before); ok {
		return "version " + b + " → " + a
	}
	return "version " + a
}

func backupCreated(after any) string {
	var m struct {
		ID        string `json:"id"`
		SizeBytes int64  `json:"size_bytes"`
	}
	if !decode(after, &m) || m.ID == "" {
		return ""
	}
	return fmt.Sprintf("backup %s (%s)", m.ID, ui.HumanBytes(m.SizeBytes))
}

// ellipsis cuts s to n characters, the last an ellipsis.
func ellipsis(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// backupRestored is a logical restore ("backup B into T") or a data folder
// built for a point-in-time restore ("backup B into DIR (to T)").
func backupRestored(after any) string {
	var r struct {
		ID      string `json:"id"`
		Target  string `json:"target"`
		DataDir string `json:"data_dir"`
	}
	if !decode(after, &r) || r.ID == "" {
		return ""
	}
	if r.DataDir != "" {
		return fmt.Sprintf("backup %s into %s (to %s)", r.ID, r.DataDir, r.Target)
	}
	return fmt.Sprintf("backup %s into %s", r.ID, r.Target)
}

// releaseChange is where a release stood: "v7 running at step migrate".
func releaseChange(after any) string {
	var r struct {
		Release string `json:"release"`
		Status  string `json:"status"`
		Step    string `json:"step"`
		Backup  string `json:"backup"`
	}
	if !decode(after, &r) || r.Release == "" {
		return ""
	}
	s := r.Release + " " + r.Status
	if r.Step != "" && r.Step != "end" {
		s += " at step " + r.Step
	}
	if r.Backup != "" {
		s += ", backup " + r.Backup
	}
	return s
}
