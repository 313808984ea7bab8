package alb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
)

// explain turns an ELBv2 error into what an operator can act on. nil stays
// nil. ARNs are not secrets; the error never carries credentials.
func explain(s Settings, op string, err error) error {
	if err == nil {
		return nil
	}
	// The credential chain's failures come explained by awsconf.
	var ce *provider.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, ce)
	}
	var ue *provider.UnreachableError
	if errors.As(err, &ue) {
		return ue
	}
	var de *awsconf.DeadlineError
	if errors.As(err, &de) {
		return provider.Unreachable(endpointName(s), fmt.Errorf("%s: %s", op, de))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return provider.Unreachable(endpointName(s), se.Err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, err)
	}
	msg := ae.ErrorMessage()
	switch ae.ErrorCode() {
	case "RuleNotFound":
		return fmt.Errorf("%s: the load balancer has no rule %s: check traffic.aws-alb.rule_arn (aws elbv2 describe-rules --listener-arn %s)", op, s.RuleARN, s.ListenerARN)
	case "ListenerNotFound":
		return fmt.Errorf("%s: the load balancer has no listener %s: check traffic.aws-alb.listener_arn and region %q", op, s.ListenerARN, s.Region)
	case "TargetGroupNotFound":
		return fmt.Errorf("%s: a slot's target group does not exist: check traffic.aws-alb.slots (aws elbv2 describe-target-groups): %s", op, msg)
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return fmt.Errorf("%s: the AWS identity is not allowed to do this: grant the elasticloadbalancing actions listed in docs/aws.md to its IAM policy (%s)", op, msg)
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException":
		return fmt.Errorf("%s: AWS throttled the load balancer API even after retries: wait a minute and run the command again; if it persists, other automation is calling the API too often", op)
	case "PriorityInUse":
		return fmt.Errorf("%s: another rule took that priority meanwhile: run the command again (%s)", op, msg)
	case "TooManyRules", "TooManyActions", "TooManyTags", "TooManyTargetGroups", "TooManyUniqueTargetGroupsPerLoadBalancer":
		return fmt.Errorf("%s: a load balancer quota is reached (%s): %s: see the limits in docs/aws.md, or ask AWS for a higher quota", op, ae.ErrorCode(), msg)
	case "ValidationError":
		// ELBv2 reports limits of a rule's shape (condition values,
		// wildcards, one condition per field) as ValidationError.
		if strings.Contains(msg, "condition values") || strings.Contains(msg, "wildcards") {
			return fmt.Errorf("%s: the rule exceeds ALB's condition values per rule (5, not adjustable): %s: see the limits in docs/aws.md", op, msg)
		}
		return fmt.Errorf("%s: the load balancer refused the request as invalid: %s: see the limits in docs/aws.md", op, msg)
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "RequestExpired":
		return &provider.ConfigError{Msg: fmt.Sprintf("%s: the AWS credentials were refused (%s): refresh them (aws sso login, or new keys)", op, ae.ErrorCode())}
	}
	return fmt.Errorf("%s: load balancer API: %s: %s", op, ae.ErrorCode(), msg)
}

func endpointName(s Settings) string {
	if s.Endpoint != "" {
		return "AWS load balancer API at " + s.Endpoint
	}
	return "AWS load balancer API in " + s.Region
}
