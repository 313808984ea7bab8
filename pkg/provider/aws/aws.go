// Package aws is the provider family for Amazon Web Services. Each ability
// lives in its own file or sub-package; Family assembles them.
package aws

import (
	"context"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3state"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets"
)

// Family returns the aws provider family.
func Family() *provider.Family {
	f := &provider.Family{
		Name:          "aws",
		TrafficConfig: &provider.Section{Name: "aws-alb", Settings: func() any { return &ALBSection{} }},
		StorageConfig: &provider.Section{Name: "s3", Settings: func() any { return &s3store.Settings{} }},
	}
	f.BackupStore = s3store.Open
	f.Traffic, f.Maintenance = alb.NewTraffic, alb.NewMaintenance
	// In S3 with traffic.aws-alb.state.bucket, else in the operator's state folder.
	f.Locker, f.State, f.History = s3state.NewLocker, s3state.NewState, s3state.NewHistory
	f.Variables = map[string]func(context.Context, provider.Env, provider.Decode) (provider.VariableSource, error){}
	f.Variables["aws-secrets"] = secrets.Open
	// further abilities are wired here, one line each
	return f
}

// ALBSection is the traffic.aws-alb section: the load balancer's settings
// (alb) and the bucket that may hold the lock, state and history (s3state).
type ALBSection struct {
	alb.Settings `mapstructure:",squash"`
	State        s3state.StateSettings `mapstructure:"state"`
}
