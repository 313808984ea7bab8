// Package aws is the provider family for Amazon Web Services. Each ability
// lives in its own file or sub-package; Family assembles them.
package aws

import (
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store"
)

// Family returns the aws provider family.
func Family() *provider.Family {
	f := &provider.Family{Name: "aws"}
	f.BackupStore = s3store.Open
	// further abilities are wired here, one line each
	return f
}
