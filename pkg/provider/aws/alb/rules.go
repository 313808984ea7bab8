package alb

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/deployctl/deployctl/pkg/provider"
)

// MaxBody is ALB's limit on a fixed-response body, in bytes.
const MaxBody = 1024

// pageAction is the fixed response: 503 and a small HTML page.
func pageAction(st provider.MaintenanceState) types.Action {
	return types.Action{Type: types.ActionTypeEnumFixedResponse, Order: aws.Int32(1), FixedResponseConfig: &types.FixedResponseActionConfig{
		StatusCode: aws.String("503"), ContentType: aws.String("text/html"), MessageBody: aws.String(Page(st)),
	}}
}

// Page renders the maintenance page within MaxBody bytes, cutting the
// message when it is too long.
func Page(st provider.MaintenanceState) string {
	msg := st.Message
	if msg == "" {
		msg = "We are carrying out maintenance and will be back shortly."
	}
	back := ""
	if !st.Until.IsZero() {
		back = "<p>Expected back by " + st.Until.UTC().Format("2006-01-02 15:04 MST") + ".</p>"
	}
	head := `<!doctype html><html><head><meta charset="utf-8"><title>Maintenance</title></head><body><h1>Down for maintenance</h1><p>`
	tail := "</p>" + back + "</body></html>"
	room := MaxBody - len(head) - len(tail)
	body := html.EscapeString(msg)
	for len(body) > room {
		r := []rune(msg)
		msg = string(r[:max(0, len(r)*room/len(body)-1)])
		body = html.EscapeString(msg) + "…"
	}
	return head + body + tail
}

// resendable copies what DescribeRules returned into what CreateRule and
// ModifyRule accept: a condition is sent by its typed config only, a
// forward action by its ForwardConfig only, and an authenticate-oidc action
// (whose client secret DescribeRules never returns) with
// UseExistingClientSecret, which ModifyRule and ModifyListener require.
// CreateRule cannot take such an action: see hasOIDC.
func resendable[T types.RuleCondition | types.Action](in []T) []T {
	out := make([]T, len(in))
	for i, v := range in {
		switch x := any(&v).(type) {
		case *types.RuleCondition:
			if x.HostHeaderConfig != nil || x.PathPatternConfig != nil || x.HttpHeaderConfig != nil || x.HttpRequestMethodConfig != nil || x.QueryStringConfig != nil || x.SourceIpConfig != nil {
				x.Values = nil
			}
		case *types.Action:
			if x.ForwardConfig != nil && len(x.ForwardConfig.TargetGroups) > 0 {
				x.TargetGroupArn = nil
			}
			if x.AuthenticateOidcConfig != nil && x.AuthenticateOidcConfig.ClientSecret == nil {
				oidc := *x.AuthenticateOidcConfig
				oidc.UseExistingClientSecret = aws.Bool(true)
				x.AuthenticateOidcConfig = &oidc
			}
		}
		out[i] = v
	}
	return out
}

// The switch's state rides on the page rule as base64 JSON in chunks of 256
// characters (the tag value limit; base64 uses only allowed characters).
const (
	tagState  = "deployctl:state"
	chunk     = 256
	maxChunks = 8
)

func encodeState(st provider.MaintenanceState) []types.Tag {
	st.On, st.Restore = false, nil
	for {
		b, _ := json.Marshal(st)
		enc := base64.StdEncoding.EncodeToString(b)
		if len(enc) > chunk*maxChunks { // only a very long message gets here; the page has it whole
			r := []rune(st.Message)
			st.Message = string(r[:len(r)*3/4])
			continue
		}
		n := (len(enc) + chunk - 1) / chunk
		tags := []types.Tag{{Key: aws.String(tagState), Value: aws.String(strconv.Itoa(n))}}
		for i := 0; i < n; i++ {
			tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("%s.%d", tagState, i+1)), Value: aws.String(enc[i*chunk : min((i+1)*chunk, len(enc))])})
		}
		return tags
	}
}

func decodeState(tags map[string]string) provider.MaintenanceState {
	var st provider.MaintenanceState
	n, _ := strconv.Atoi(tags[tagState])
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		sb.WriteString(tags[fmt.Sprintf("%s.%d", tagState, i)])
	}
	b, err := base64.StdEncoding.DecodeString(sb.String())
	if err != nil || json.Unmarshal(b, &st) != nil {
		return provider.MaintenanceState{Message: "(the maintenance rule's state tags are unreadable)"}
	}
	st.Since, st.Until = st.Since.UTC(), st.Until.UTC()
	return st
}

// hasOIDC tells whether acts authenticate with OIDC: a new rule copying
// them would need the client secret, which the API never returns.
func hasOIDC(acts []types.Action) bool {
	for _, a := range acts {
		if a.Type == types.ActionTypeEnumAuthenticateOidc {
			return true
		}
	}
	return false
}

// conditionValues counts what ALB's quota "condition values per rule"
// counts: every value of every condition, host and path included.
func conditionValues(conds []types.RuleCondition) (int, string) {
	n := 0
	var parts []string
	for _, c := range conds {
		k := 0
		switch {
		case c.HostHeaderConfig != nil:
			k = len(c.HostHeaderConfig.Values)
		case c.PathPatternConfig != nil:
			k = len(c.PathPatternConfig.Values)
		case c.HttpHeaderConfig != nil:
			k = len(c.HttpHeaderConfig.Values)
		case c.HttpRequestMethodConfig != nil:
			k = len(c.HttpRequestMethodConfig.Values)
		case c.SourceIpConfig != nil:
			k = len(c.SourceIpConfig.Values)
		case c.QueryStringConfig != nil:
			k = len(c.QueryStringConfig.Values)
		default:
			k = len(c.Values)
		}
		n += k
		parts = append(parts, fmt.Sprintf("%d %s", k, aws.ToString(c.Field)))
	}
	return n, strings.Join(parts, ", ")
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
