package app

import (
	"runtime"
	"runtime/debug"
)

// Build is what `deployctl version` says of this binary.
type Build struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Date     string `json:"date"`
	Go       string `json:"go"`
	Modified bool   `json:"modified,omitempty"` // built from a checkout with uncommitted changes
}

// BuildInfo is the release's stamps (goreleaser sets Version, Commit and
// Date), else what Go embedded at build time: the module version of `go
// install …@vX`, or the VCS revision and time of a build from a checkout.
func BuildInfo() Build {
	b := Build{Version: Version, Commit: Commit, Date: Date, Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "none" {
				b.Commit = s.Value
				if len(b.Commit) > 12 {
					b.Commit = b.Commit[:12]
				}
			}
		case "vcs.time":
			if b.Date == "unknown" {
				b.Date = s.Value
			}
		case "vcs.modified":
			b.Modified = s.Value == "true" && Commit == "none"
		}
	}
	return b
}
