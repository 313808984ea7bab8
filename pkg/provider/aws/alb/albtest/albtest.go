// Package albtest is an in-process fake of the ELBv2 API that speaks its
// wire protocol (AWS Query: form POSTs in, XML out, XML errors), so tests
// run the real SDK against it. It keeps rules, listeners, tags and target
// health. Actions, conditions and transforms are stored exactly as the SDK
// sent them (the flattened form keys) and rendered back as XML by the same
// shape rules, so whatever a client writes is what it reads back, except
// what the real service never returns (an OIDC client secret).
//
// It enforces the documented rules a client can get wrong: at most
// MaxConditionValues condition values per rule (host and path values
// included), priorities 1–50000 and PriorityInUse, well-formed actions
// (ValidationError), an OIDC action's ClientSecret on CreateRule and
// ClientSecret or UseExistingClientSecret=true on ModifyRule and
// ModifyListener, NextMarker pages of PageSize rules on DescribeRules, and
// state "unused" for the targets of a target group no rule forwards to.
// The service is eventually consistent: the first StaleReads describe calls
// after a write answer with the state before it.
package albtest

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Rule is one listener rule. Actions and Conditions hold form keys relative
// to the list ("member.1.Type" → "forward").
type Rule struct {
	ARN, Listener, Priority         string
	IsDefault                       bool
	Actions, Conditions, Transforms url.Values
	Tags                            map[string]string
}

func (r *Rule) clone() *Rule {
	c := *r
	c.Tags = map[string]string{}
	for k, v := range r.Tags {
		c.Tags[k] = v
	}
	return &c
}

// MaxConditionValues is ALB's quota "condition values per rule" (not
// adjustable).
const MaxConditionValues = 5

// Target is one registered target's health.
type Target struct {
	ID, State, Reason string
}

// Fault makes the next Times calls of Action fail with Code (HTTP Status),
// after letting After calls through.
type Fault struct {
	Code, Message        string
	Status, Times, After int
}

// Server is the fake.
type Server struct {
	URL string

	mu        sync.Mutex
	Rules     []*Rule
	Listeners map[string]url.Values // ARN → DefaultActions form keys
	Health    map[string][]Target   // target group ARN → targets
	Faults    map[string]*Fault
	Calls     []string // actions in order
	// StaleReads makes that many DescribeRules/DescribeListeners calls after
	// a write still answer with the state before it (DescribeTags answers
	// from the same state as the last of those). Start sets 1.
	StaleReads int
	// PageSize is the most rules one DescribeRules page holds; the rest
	// follow by NextMarker. Start sets 2, so that clients must page.
	PageSize  int
	staleLeft int
	staleView bool
	snap      *snapshot
	seq       int
}

// snapshot is the rules and listeners as they were before a write.
type snapshot struct {
	rules     []*Rule
	listeners map[string]url.Values
}

// Start runs a fake on a loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Listeners: map[string]url.Values{}, Health: map[string][]Target{}, Faults: map[string]*Fault{}, StaleReads: 1, PageSize: 2}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Forward returns the form keys of one forward action with weights, as a
// console-made rule would have them (TargetGroupArn set for one group).
func Forward(weights map[string]int) url.Values {
	v := url.Values{"member.1.Type": {"forward"}, "member.1.Order": {"1"}}
	arns := make([]string, 0, len(weights))
	for a := range weights {
		arns = append(arns, a)
	}
	sort.Strings(arns)
	for i, a := range arns {
		p := fmt.Sprintf("member.1.ForwardConfig.TargetGroups.member.%d.", i+1)
		v.Set(p+"TargetGroupArn", a)
		v.Set(p+"Weight", strconv.Itoa(weights[a]))
	}
	if len(arns) == 1 {
		v.Set("member.1.TargetGroupArn", arns[0])
	}
	v.Set("member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled", "false")
	return v
}

// AddListener adds a listener with default actions and its default rule.
func (s *Server) AddListener(arn string, defaults url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Listeners[arn] = defaults
	s.Rules = append(s.Rules, &Rule{ARN: arn + "/default", Listener: arn, Priority: "default", IsDefault: true, Actions: defaults, Conditions: url.Values{}, Transforms: url.Values{}, Tags: map[string]string{}})
}

// AddRule adds a rule and returns its ARN.
func (s *Server) AddRule(listener, priority string, conds, acts url.Values) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addRule(listener, priority, conds, acts, map[string]string{})
}

func (s *Server) addRule(listener, priority string, conds, acts url.Values, tags map[string]string) string {
	s.seq++
	arn := strings.Replace(listener, ":listener/", ":listener-rule/", 1) + fmt.Sprintf("/%016x", s.seq)
	s.Rules = append(s.Rules, &Rule{ARN: arn, Listener: listener, Priority: priority, Actions: conds0(acts), Conditions: conds0(conds), Transforms: url.Values{}, Tags: tags})
	return arn
}

func conds0(v url.Values) url.Values {
	if v == nil {
		return url.Values{}
	}
	return v
}

// SetTransforms sets a rule's transforms (form keys relative to the list),
// as the console would.
func (s *Server) SetTransforms(arn string, transforms url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.find(arn).Transforms = transforms
}

// SetActions replaces a rule's actions, as the console would.
func (s *Server) SetActions(arn string, acts url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.find(arn).Actions = acts
}

// SetHealth sets the targets of a target group.
func (s *Server) SetHealth(tg string, targets ...Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Health[tg] = targets
}

// Fail injects a fault for action.
func (s *Server) Fail(action string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		f.Status = 400
	}
	s.Faults[action] = &f
}

// Rule returns a copy of the rule with arn, or nil.
func (s *Server) Rule(arn string) *Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(arn); r != nil {
		c := *r
		return &c
	}
	return nil
}

// RulesOf returns copies of the listener's rules.
func (s *Server) RulesOf(listener string) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Rule
	for _, r := range s.Rules {
		if r.Listener == listener {
			out = append(out, *r)
		}
	}
	return out
}

// CallCount counts the calls of action so far.
func (s *Server) CallCount(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.Calls {
		if c == action {
			n++
		}
	}
	return n
}

func (s *Server) find(arn string) *Rule {
	for _, r := range s.Rules {
		if r.ARN == arn {
			return r
		}
	}
	return nil
}
