// Package aws is the provider family for Amazon Web Services. Each ability
// lives in its own file or sub-package; Family assembles them.
package aws

import (
	"context"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// Family returns the aws provider family.
func Family() *provider.Family {
	f := &provider.Family{Name: "aws"}
	f.BackupStore = s3store.Open
	f.Traffic, f.Maintenance = alb.NewTraffic, alb.NewMaintenance
	// No shared lock, state or history on AWS yet: the operator's state folder
	// holds them, as for the local family (docs/aws.md says what that means).
	f.Locker, f.State, f.History = statefs.NewLocker, statefs.NewState, statefs.NewHistory
	f.Variables = map[string]func(context.Context, provider.Env, provider.Decode) (provider.VariableSource, error){}
	f.Variables["aws-secrets"] = secrets.Open
	// further abilities are wired here, one line each
	return f
}
