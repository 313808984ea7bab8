// Package all is the explicit list of provider families deployctl ships.
package all

import (
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws"
	"github.com/deployctl/deployctl/pkg/provider/kubernetes"
	"github.com/deployctl/deployctl/pkg/provider/local"
)

// Registry returns a registry with every provider family.
func Registry() *provider.Registry {
	r := provider.NewRegistry()
	// families are registered here, one line each, as they land:
	r.Register(local.Family())
	r.Register(aws.Family())
	r.Register(kubernetes.Family())
	return r
}
