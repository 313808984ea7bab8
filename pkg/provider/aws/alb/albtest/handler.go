package albtest

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

type apiError struct {
	status        int
	code, message string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil || req.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	form := req.PostForm
	action := form.Get("Action")
	if form.Get("Version") != "2015-12-01" || !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		writeError(w, action, &apiError{400, "InvalidAction", "missing version or signature"})
		return
	}
	s.mu.Lock()
	s.Calls = append(s.Calls, action)
	body, aerr := s.dispatch(action, form)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, action, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>fake-1</RequestId></ResponseMetadata></%sResponse>`,
		action, action, body, action, action)
}

func writeError(w http.ResponseWriter, action string, e *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-err</RequestId></ErrorResponse>`,
		e.code, html.EscapeString(e.message))
}

func (s *Server) dispatch(action string, form url.Values) (string, *apiError) {
	if f := s.Faults[action]; f != nil && f.Times != 0 {
		f.Times--
		return "", &apiError{f.Status, f.Code, f.Message}
	}
	switch action {
	case "DescribeRules":
		return s.describeRules(form)
	case "DescribeListeners":
		return s.describeListeners(form)
	case "ModifyRule":
		return s.modifyRule(form)
	case "ModifyListener":
		return s.modifyListener(form)
	case "CreateRule":
		return s.createRule(form)
	case "DeleteRule":
		return s.deleteRule(form)
	case "DescribeTags":
		return s.describeTags(form)
	case "AddTags":
		return s.addTags(form)
	case "DescribeTargetHealth":
		return s.describeTargetHealth(form)
	}
	return "", &apiError{400, "InvalidAction", "the fake does not implement " + action}
}

// sub returns the keys of form under prefix+".", relative to it.
func sub(form url.Values, prefix string) url.Values {
	out := url.Values{}
	for k, v := range form {
		if strings.HasPrefix(k, prefix+".") {
			out[strings.TrimPrefix(k, prefix+".")] = v
		}
	}
	return out
}

// list returns the values of prefix.member.N in order.
func list(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.member.%d", prefix, i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (s *Server) actionsOf(r *Rule) url.Values {
	if s.staleLeft[r.ARN] > 0 {
		s.staleLeft[r.ARN]--
		return s.stale[r.ARN]
	}
	return r.Actions
}

func (s *Server) ruleXML(r *Rule) string { return ruleXML(r, s.actionsOf(r)) }

// ruleXML renders a rule with acts: what a describe call sees, or the
// written actions in a modification's answer.
func ruleXML(r *Rule, acts url.Values) string {
	return fmt.Sprintf("<member><RuleArn>%s</RuleArn><Priority>%s</Priority><IsDefault>%v</IsDefault><Actions>%s</Actions><Conditions>%s</Conditions></member>",
		r.ARN, r.Priority, r.IsDefault, render(acts), render(r.Conditions))
}

func (s *Server) describeRules(form url.Values) (string, *apiError) {
	var b strings.Builder
	if arns := list(form, "RuleArns"); len(arns) > 0 {
		for _, a := range arns {
			r := s.find(a)
			if r == nil {
				return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
			}
			b.WriteString(s.ruleXML(r))
		}
		return "<Rules>" + b.String() + "</Rules>", nil
	}
	l := form.Get("ListenerArn")
	if _, ok := s.Listeners[l]; !ok {
		return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	}
	for _, r := range s.Rules {
		if r.Listener == l {
			b.WriteString(s.ruleXML(r))
		}
	}
	return "<Rules>" + b.String() + "</Rules>", nil
}

func (s *Server) describeListeners(form url.Values) (string, *apiError) {
	var b strings.Builder
	for _, a := range list(form, "ListenerArns") {
		d, ok := s.Listeners[a]
		if !ok {
			return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
		}
		if s.staleLeft[a] > 0 {
			s.staleLeft[a]--
			d = s.stale[a]
		}
		fmt.Fprintf(&b, "<member><ListenerArn>%s</ListenerArn><Protocol>HTTP</Protocol><Port>80</Port><DefaultActions>%s</DefaultActions></member>", a, render(d))
	}
	return "<Listeners>" + b.String() + "</Listeners>", nil
}

func (s *Server) remember(arn string, old url.Values) {
	s.stale[arn], s.staleLeft[arn] = old, s.StaleReads
}

func (s *Server) modifyRule(form url.Values) (string, *apiError) {
	r := s.find(form.Get("RuleArn"))
	if r == nil {
		return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
	}
	if acts := sub(form, "Actions"); len(acts) > 0 {
		if err := checkActions(acts); err != nil {
			return "", err
		}
		s.remember(r.ARN, r.Actions)
		r.Actions = acts
	}
	if conds := sub(form, "Conditions"); len(conds) > 0 {
		r.Conditions = conds
	}
	return "<Rules>" + ruleXML(r, r.Actions) + "</Rules>", nil
}

func (s *Server) modifyListener(form url.Values) (string, *apiError) {
	a := form.Get("ListenerArn")
	old, ok := s.Listeners[a]
	if !ok {
		return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	}
	if acts := sub(form, "DefaultActions"); len(acts) > 0 {
		if err := checkActions(acts); err != nil {
			return "", err
		}
		s.remember(a, old)
		s.Listeners[a] = acts
		for _, r := range s.Rules {
			if r.Listener == a && r.IsDefault {
				r.Actions = acts
			}
		}
	}
	return "", nil
}

// checkActions enforces what the real API refuses and clients get wrong.
func checkActions(acts url.Values) *apiError {
	for i := 1; acts.Get(fmt.Sprintf("member.%d.Type", i)) != ""; i++ {
		p := fmt.Sprintf("member.%d.", i)
		if acts.Get(p+"TargetGroupArn") != "" && acts.Get(p+"ForwardConfig.TargetGroups.member.2.TargetGroupArn") != "" {
			return &apiError{400, "ValidationError", "You cannot specify both a target group ARN and a forward config with several target groups"}
		}
		if body := acts.Get(p + "FixedResponseConfig.MessageBody"); len(body) > 1024 {
			return &apiError{400, "ValidationError", "Fixed response message body is longer than 1024"}
		}
	}
	return nil
}

// checkConditions enforces one condition per field for the fields ALB
// allows once per rule.
func checkConditions(conds url.Values) *apiError {
	seen := map[string]bool{}
	for i := 1; conds.Get(fmt.Sprintf("member.%d.Field", i)) != ""; i++ {
		f := conds.Get(fmt.Sprintf("member.%d.Field", i))
		if seen[f] && f != "http-header" && f != "query-string" {
			return &apiError{400, "ValidationError", "A rule can only have one '" + f + "' condition"}
		}
		seen[f] = true
	}
	return nil
}

func (s *Server) createRule(form url.Values) (string, *apiError) {
	l := form.Get("ListenerArn")
	if _, ok := s.Listeners[l]; !ok {
		return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	}
	prio := form.Get("Priority")
	for _, r := range s.Rules {
		if r.Listener == l && r.Priority == prio {
			return "", &apiError{400, "PriorityInUse", "Priority '" + prio + "' is currently in use"}
		}
	}
	if err := checkActions(sub(form, "Actions")); err != nil {
		return "", err
	}
	if err := checkConditions(sub(form, "Conditions")); err != nil {
		return "", err
	}
	tags := map[string]string{}
	for i := 1; form.Get(fmt.Sprintf("Tags.member.%d.Key", i)) != ""; i++ {
		tags[form.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
	}
	arn := s.addRule(l, prio, sub(form, "Conditions"), sub(form, "Actions"), tags)
	return "<Rules>" + s.ruleXML(s.find(arn)) + "</Rules>", nil
}

func (s *Server) deleteRule(form url.Values) (string, *apiError) {
	for i, r := range s.Rules {
		if r.ARN == form.Get("RuleArn") {
			s.Rules = append(s.Rules[:i], s.Rules[i+1:]...)
			return "", nil
		}
	}
	return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
}

func (s *Server) describeTags(form url.Values) (string, *apiError) {
	var b strings.Builder
	for _, a := range list(form, "ResourceArns") {
		r := s.find(a)
		if r == nil {
			return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
		}
		keys := make([]string, 0, len(r.Tags))
		for k := range r.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "<member><ResourceArn>%s</ResourceArn><Tags>", a)
		for _, k := range keys {
			fmt.Fprintf(&b, "<member><Key>%s</Key><Value>%s</Value></member>", html.EscapeString(k), html.EscapeString(r.Tags[k]))
		}
		b.WriteString("</Tags></member>")
	}
	return "<TagDescriptions>" + b.String() + "</TagDescriptions>", nil
}

func (s *Server) addTags(form url.Values) (string, *apiError) {
	for _, a := range list(form, "ResourceArns") {
		r := s.find(a)
		if r == nil {
			return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
		}
		for i := 1; form.Get(fmt.Sprintf("Tags.member.%d.Key", i)) != ""; i++ {
			v := form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
			if len(v) > 256 {
				return "", &apiError{400, "ValidationError", "tag value longer than 256"}
			}
			r.Tags[form.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = v
		}
	}
	return "", nil
}

func (s *Server) describeTargetHealth(form url.Values) (string, *apiError) {
	tg := form.Get("TargetGroupArn")
	targets, ok := s.Health[tg]
	if !ok {
		return "", &apiError{400, "TargetGroupNotFound", "One or more target groups not found"}
	}
	var b strings.Builder
	for _, t := range targets {
		fmt.Fprintf(&b, "<member><Target><Id>%s</Id><Port>80</Port></Target><TargetHealth><State>%s</State>", t.ID, t.State)
		if t.Reason != "" {
			fmt.Fprintf(&b, "<Reason>%s</Reason>", t.Reason)
		}
		b.WriteString("</TargetHealth></member>")
	}
	return "<TargetHealthDescriptions>" + b.String() + "</TargetHealthDescriptions>", nil
}

// render turns flattened Query keys back into the XML shape: each dotted
// segment is an element and "member.N" is the N-th <member>.
func render(v url.Values) string {
	root := &node{kids: map[string]*node{}}
	for k, vals := range v {
		n := root
		segs := strings.Split(k, ".")
		for i := 0; i < len(segs); i++ {
			name, key := segs[i], segs[i]
			if name == "member" && i+1 < len(segs) {
				i++
				idx, _ := strconv.Atoi(segs[i])
				key = fmt.Sprintf("member.%06d", idx)
			}
			c := n.kids[key]
			if c == nil {
				c = &node{name: name, kids: map[string]*node{}}
				n.kids[key] = c
			}
			n = c
		}
		n.value = vals[0]
	}
	var b strings.Builder
	root.write(&b)
	return b.String()
}

type node struct {
	name, value string
	kids        map[string]*node
}

func (n *node) write(b *strings.Builder) {
	keys := make([]string, 0, len(n.kids))
	for k := range n.kids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := n.kids[k]
		b.WriteString("<" + c.name + ">")
		if len(c.kids) == 0 {
			b.WriteString(html.EscapeString(c.value))
		}
		c.write(b)
		b.WriteString("</" + c.name + ">")
	}
}
