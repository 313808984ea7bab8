package route53

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/deployctl/deployctl/pkg/dns"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
)

// explain turns a Route 53 error into what an operator can act on. Ids
// and names are not secrets; the error never carries credentials.
func (f *Failover) explain(op string, err error) error {
	s := f.Settings
	var ce *provider.ConfigError
	var ue *provider.UnreachableError
	var de *awsconf.DeadlineError
	var se *smithyhttp.RequestSendError
	var icb *types.InvalidChangeBatch
	var ae smithy.APIError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("%s: %w", op, ce)
	case errors.As(err, &ue):
		return ue
	case errors.As(err, &de):
		return provider.Unreachable(f.endpointName(), fmt.Errorf("%s: %s", op, de))
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &se):
		return provider.Unreachable(f.endpointName(), se.Err)
	case errors.As(err, &icb):
		return fmt.Errorf("%s: %w: Route 53 says: %s", op, dns.ErrRejected, strings.Join(icb.Messages, "; "))
	case !errors.As(err, &ae):
		return fmt.Errorf("%s: %w", op, err)
	}
	msg := ae.ErrorMessage()
	switch ae.ErrorCode() {
	case "NoSuchHostedZone":
		return &provider.ConfigError{Msg: fmt.Sprintf("%s: Route 53 has no hosted zone %s: check dns.route53.hosted_zone_id (aws route53 list-hosted-zones-by-name --dns-name %s)", op, s.HostedZoneID, s.Record)}
	case "NoSuchHealthCheck":
		return fmt.Errorf("%s: the health check does not exist (deleted?): attach an existing one to the record (aws route53 list-health-checks): %s", op, msg)
	case "NoSuchChange":
		return fmt.Errorf("%s: Route 53 does not know this change (changes are kept 90 days): %s", op, msg)
	case "InvalidInput":
		return fmt.Errorf("%s: Route 53 refused the request as invalid: %s", op, msg)
	case "AccessDenied", "AccessDeniedException":
		return fmt.Errorf("%s: the AWS identity is not allowed to do this: grant route53:ListResourceRecordSets, route53:ChangeResourceRecordSets, route53:GetChange and route53:GetHealthCheckStatus (docs/dr.md): %s", op, msg)
	case "Throttling", "ThrottlingException", "PriorRequestNotComplete":
		return fmt.Errorf("%s: Route 53 throttled the request even after retries (5 requests a second per account): wait a minute and run the command again", op)
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "RequestExpired":
		return &provider.ConfigError{Msg: fmt.Sprintf("%s: the AWS credentials were refused (%s): refresh them (aws sso login, or new keys)", op, ae.ErrorCode())}
	}
	return fmt.Errorf("%s: Route 53: %s: %s", op, ae.ErrorCode(), msg)
}

func (f *Failover) endpointName() string {
	if f.Settings.Endpoint != "" {
		return "Route 53 API at " + f.Settings.Endpoint
	}
	return "Route 53 API (route53.amazonaws.com)"
}
