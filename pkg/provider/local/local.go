// Package local is the provider family that works on one machine with
// nothing but PostgreSQL: the built-in proxy (traffic and maintenance),
// files in the state folder (lock, state, history), a backup folder, and
// variables from dotenv files and the process environment. Each ability
// lives in a sub-package; Family assembles them.
package local

import (
	"context"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
	"github.com/deployctl/deployctl/pkg/provider/local/proxy"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
	"github.com/deployctl/deployctl/pkg/provider/local/vars"
)

// Family returns the local provider family.
func Family() *provider.Family {
	f := &provider.Family{
		Name:          "local",
		TrafficConfig: &provider.Section{Name: "local", Settings: func() any { return proxy.DefaultSettings() }},
		StorageConfig: &provider.Section{Name: "file", Settings: func() any { return filestore.DefaultSettings() }},
		Variables:     map[string]func(context.Context, provider.Env, provider.Decode) (provider.VariableSource, error){},
	}
	// abilities are wired here, one line each, as their sub-packages land
	f.Locker, f.State, f.History = statefs.NewLocker, statefs.NewState, statefs.NewHistory
	f.Traffic, f.Maintenance = proxy.NewTraffic, proxy.NewMaintenance
	f.BackupStore = filestore.Open
	f.Variables["dotenv"] = vars.NewDotenv
	f.Variables["process"] = vars.NewProcess
	return f
}
