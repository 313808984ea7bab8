//go:build tools

// Package versitygw pins the S3 test server that scripts/versitygw/build
// compiles.
package versitygw

import (
	_ "github.com/versity/versitygw/cmd/versitygw"
)
