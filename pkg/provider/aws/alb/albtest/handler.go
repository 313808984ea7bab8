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
	if f := s.Faults[action]; f != nil && f.After > 0 {
		f.After--
	} else if f != nil && f.Times != 0 {
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

// written is called before every write: the describe calls that follow
// answer from the state before the first unread write.
func (s *Server) written() {
	if s.staleLeft == 0 {
		s.snap = s.copyState()
	}
	s.staleLeft, s.staleView = s.StaleReads, false
}

func (s *Server) copyState() *snapshot {
	snap := &snapshot{listeners: map[string]url.Values{}}
	for _, r := range s.Rules {
		snap.rules = append(snap.rules, r.clone())
	}
	for k, v := range s.Listeners {
		snap.listeners[k] = v
	}
	return snap
}

// view returns the rules and listeners a describe call sees.
func (s *Server) view() ([]*Rule, map[string]url.Values) {
	s.staleView = s.staleLeft > 0 && s.snap != nil
	if s.staleView {
		s.staleLeft--
		return s.snap.rules, s.snap.listeners
	}
	return s.Rules, s.Listeners
}

func findIn(rules []*Rule, arn string) *Rule {
	for _, r := range rules {
		if r.ARN == arn {
			return r
		}
	}
	return nil
}

// ruleXML renders a rule as a describe call sees it: never the client
// secret of an OIDC action.
func ruleXML(r *Rule) string {
	return fmt.Sprintf("<member><RuleArn>%s</RuleArn><Priority>%s</Priority><IsDefault>%v</IsDefault><Actions>%s</Actions><Conditions>%s</Conditions><Transforms>%s</Transforms></member>",
		r.ARN, r.Priority, r.IsDefault, render(public(r.Actions)), render(r.Conditions), render(r.Transforms))
}

// public drops what the service never returns.
func public(acts url.Values) url.Values {
	out := url.Values{}
	for k, v := range acts {
		if !strings.HasSuffix(k, ".AuthenticateOidcConfig.ClientSecret") && !strings.HasSuffix(k, ".AuthenticateOidcConfig.UseExistingClientSecret") {
			out[k] = v
		}
	}
	return out
}

func (s *Server) describeRules(form url.Values) (string, *apiError) {
	rules, listeners := s.Rules, s.Listeners
	if form.Get("Marker") == "" {
		rules, listeners = s.view()
	} else if s.staleView { // the later pages of a stale listing are stale too
		rules, listeners = s.snap.rules, s.snap.listeners
	}
	var b strings.Builder
	if arns := list(form, "RuleArns"); len(arns) > 0 {
		for _, a := range arns {
			r := findIn(rules, a)
			if r == nil {
				return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
			}
			b.WriteString(ruleXML(r))
		}
		return "<Rules>" + b.String() + "</Rules>", nil
	}
	l := form.Get("ListenerArn")
	if _, ok := listeners[l]; !ok {
		return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	}
	size := s.PageSize
	if n, err := strconv.Atoi(form.Get("PageSize")); err == nil {
		if n < 1 || n > 400 {
			return "", &apiError{400, "ValidationError", "Page size must be between 1 and 400"}
		}
		size = min(size, n)
	}
	if size <= 0 {
		size = 400
	}
	var of []*Rule
	for _, r := range rules {
		if r.Listener == l {
			of = append(of, r)
		}
	}
	from := 0
	if m := form.Get("Marker"); m != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "fake-marker-"))
		if err != nil || n > len(of) {
			return "", &apiError{400, "ValidationError", "Invalid marker"}
		}
		from = n
	}
	to := min(from+size, len(of))
	for _, r := range of[from:to] {
		b.WriteString(ruleXML(r))
	}
	next := ""
	if to < len(of) {
		next = fmt.Sprintf("<NextMarker>fake-marker-%d</NextMarker>", to)
	}
	return "<Rules>" + b.String() + "</Rules>" + next, nil
}

func (s *Server) describeListeners(form url.Values) (string, *apiError) {
	_, listeners := s.view()
	var b strings.Builder
	for _, a := range list(form, "ListenerArns") {
		d, ok := listeners[a]
		if !ok {
			return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
		}
		fmt.Fprintf(&b, "<member><ListenerArn>%s</ListenerArn><Protocol>HTTP</Protocol><Port>80</Port><DefaultActions>%s</DefaultActions></member>", a, render(public(d)))
	}
	return "<Listeners>" + b.String() + "</Listeners>", nil
}

func (s *Server) modifyRule(form url.Values) (string, *apiError) {
	r := s.find(form.Get("RuleArn"))
	if r == nil {
		return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
	}
	acts, conds, transforms := sub(form, "Actions"), sub(form, "Conditions"), sub(form, "Transforms")
	reset := form.Get("ResetTransforms") == "true"
	if reset && len(transforms) > 0 {
		return "", &apiError{400, "ValidationError", "You cannot specify both transforms and ResetTransforms"}
	}
	if len(acts) > 0 {
		var err *apiError
		if acts, err = checkActions(acts, r.Actions, true); err != nil {
			return "", err
		}
	}
	if len(conds) > 0 {
		if err := checkConditions(conds); err != nil {
			return "", err
		}
	}
	s.written()
	if len(acts) > 0 {
		r.Actions = acts
	}
	if len(conds) > 0 {
		r.Conditions = conds
	}
	if reset {
		r.Transforms = url.Values{}
	} else if len(transforms) > 0 {
		r.Transforms = transforms
	}
	return "<Rules>" + ruleXML(r) + "</Rules>", nil
}

func (s *Server) modifyListener(form url.Values) (string, *apiError) {
	a := form.Get("ListenerArn")
	old, ok := s.Listeners[a]
	if !ok {
		return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	}
	if acts := sub(form, "DefaultActions"); len(acts) > 0 {
		acts, err := checkActions(acts, old, true)
		if err != nil {
			return "", err
		}
		s.written()
		s.Listeners[a] = acts
		for _, r := range s.Rules {
			if r.Listener == a && r.IsDefault {
				r.Actions = acts
			}
		}
	}
	return "", nil
}

var actionTypes = map[string]bool{"forward": true, "redirect": true, "fixed-response": true, "authenticate-oidc": true, "authenticate-cognito": true}

// checkActions enforces what the real API refuses and clients get wrong,
// and returns the actions to store: on a modification (modify) an OIDC
// action with UseExistingClientSecret=true gets the secret of old's.
func checkActions(acts, old url.Values, modify bool) (url.Values, *apiError) {
	n := 0
	for ; acts.Get(fmt.Sprintf("member.%d.Type", n+1)) != ""; n++ {
	}
	if n == 0 {
		return nil, &apiError{400, "ValidationError", "A rule must have at least one action, and each action a type"}
	}
	out := url.Values{}
	for k, v := range acts {
		out[k] = v
	}
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf("member.%d.", i)
		typ := acts.Get(p + "Type")
		if err := checkAction(acts, p, typ, n); err != nil {
			return nil, err
		}
		if typ != "authenticate-oidc" {
			continue
		}
		secret, useExisting := acts.Get(p+"AuthenticateOidcConfig.ClientSecret"), acts.Get(p+"AuthenticateOidcConfig.UseExistingClientSecret") == "true"
		switch {
		case secret != "" && useExisting:
			return nil, &apiError{400, "ValidationError", "You cannot specify a client secret when UseExistingClientSecret is true"}
		case secret == "" && !modify:
			return nil, &apiError{400, "ValidationError", "A client secret must be specified for the 'authenticate-oidc' action"}
		case secret == "" && !useExisting:
			return nil, &apiError{400, "ValidationError", "A client secret must be specified, or UseExistingClientSecret set to true, when modifying an 'authenticate-oidc' action"}
		case secret == "":
			prev := existingSecret(old)
			if prev == "" {
				return nil, &apiError{400, "ValidationError", "UseExistingClientSecret is true but the rule has no 'authenticate-oidc' action with a client secret"}
			}
			out.Set(p+"AuthenticateOidcConfig.ClientSecret", prev)
			out.Del(p + "AuthenticateOidcConfig.UseExistingClientSecret")
		}
	}
	return out, nil
}

func checkAction(acts url.Values, p, typ string, n int) *apiError {
	bad := func(msg string) *apiError { return &apiError{400, "ValidationError", msg} }
	if !actionTypes[typ] {
		return bad("Action type '" + typ + "' must be one of 'forward', 'redirect', 'fixed-response', 'authenticate-oidc', 'authenticate-cognito'")
	}
	if n > 1 && acts.Get(p+"Order") == "" {
		return bad("An action order must be specified for each action of a rule with several actions")
	}
	switch typ {
	case "forward":
		if acts.Get(p+"TargetGroupArn") == "" && acts.Get(p+"ForwardConfig.TargetGroups.member.1.TargetGroupArn") == "" {
			return bad("A target group ARN must be specified for a 'forward' action")
		}
		if acts.Get(p+"TargetGroupArn") != "" && acts.Get(p+"ForwardConfig.TargetGroups.member.2.TargetGroupArn") != "" {
			return bad("You cannot specify both a target group ARN and a forward config with several target groups")
		}
	case "fixed-response":
		if acts.Get(p+"FixedResponseConfig.StatusCode") == "" {
			return bad("A status code must be specified for a 'fixed-response' action")
		}
		if len(acts.Get(p+"FixedResponseConfig.MessageBody")) > 1024 {
			return bad("Fixed response message body is longer than 1024")
		}
	case "authenticate-oidc":
		for _, f := range []string{"Issuer", "AuthorizationEndpoint", "TokenEndpoint", "UserInfoEndpoint", "ClientId"} {
			if acts.Get(p+"AuthenticateOidcConfig."+f) == "" {
				return bad("The 'authenticate-oidc' action needs " + f)
			}
		}
	}
	return nil
}

func existingSecret(acts url.Values) string {
	for i := 1; acts.Get(fmt.Sprintf("member.%d.Type", i)) != ""; i++ {
		if v := acts.Get(fmt.Sprintf("member.%d.AuthenticateOidcConfig.ClientSecret", i)); v != "" {
			return v
		}
	}
	return ""
}

// checkConditions enforces one condition per field for the fields ALB
// allows once per rule, and MaxConditionValues values over all of them.
func checkConditions(conds url.Values) *apiError {
	seen := map[string]bool{}
	values := 0
	for i := 1; conds.Get(fmt.Sprintf("member.%d.Field", i)) != ""; i++ {
		p := fmt.Sprintf("member.%d.", i)
		f := conds.Get(p + "Field")
		if seen[f] && f != "http-header" && f != "query-string" {
			return &apiError{400, "ValidationError", "A rule can only have one '" + f + "' condition"}
		}
		seen[f] = true
		values += conditionValues(conds, p)
	}
	if len(seen) == 0 {
		return &apiError{400, "ValidationError", "A rule must have at least one condition"}
	}
	if values > MaxConditionValues {
		return &apiError{400, "ValidationError", fmt.Sprintf("A rule can only have '%d' condition values, but %d were specified", MaxConditionValues, values)}
	}
	return nil
}

// conditionValues counts one condition's values by its typed config, or
// by the legacy Values list when it has none.
func conditionValues(conds url.Values, p string) int {
	n := 0
	for _, cfg := range []string{"HostHeaderConfig.Values", "PathPatternConfig.Values", "HttpHeaderConfig.Values", "HttpRequestMethodConfig.Values", "SourceIpConfig.Values", "QueryStringConfig.Values"} {
		for k := range conds {
			if strings.HasPrefix(k, p+cfg+".member.") && (!strings.HasPrefix(cfg, "QueryString") || strings.HasSuffix(k, ".Value")) {
				n++
			}
		}
	}
	if n > 0 {
		return n
	}
	for k := range conds {
		if strings.HasPrefix(k, p+"Values.member.") {
			n++
		}
	}
	return n
}

func (s *Server) createRule(form url.Values) (string, *apiError) {
	l := form.Get("ListenerArn")
	if _, ok := s.Listeners[l]; !ok {
		return "", &apiError{400, "ListenerNotFound", "One or more listeners not found"}
	}
	prio := form.Get("Priority")
	if p, err := strconv.Atoi(prio); err != nil || p < 1 || p > 50000 {
		return "", &apiError{400, "ValidationError", "Priority '" + prio + "' must be between 1 and 50000"}
	}
	for _, r := range s.Rules {
		if r.Listener == l && r.Priority == prio {
			return "", &apiError{400, "PriorityInUse", "Priority '" + prio + "' is currently in use"}
		}
	}
	acts, err := checkActions(sub(form, "Actions"), nil, false)
	if err != nil {
		return "", err
	}
	if err := checkConditions(sub(form, "Conditions")); err != nil {
		return "", err
	}
	tags := map[string]string{}
	for i := 1; form.Get(fmt.Sprintf("Tags.member.%d.Key", i)) != ""; i++ {
		tags[form.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
	}
	s.written()
	arn := s.addRule(l, prio, sub(form, "Conditions"), acts, tags)
	r := s.find(arn)
	r.Transforms = sub(form, "Transforms")
	return "<Rules>" + ruleXML(r) + "</Rules>", nil
}

func (s *Server) deleteRule(form url.Values) (string, *apiError) {
	for i, r := range s.Rules {
		if r.ARN == form.Get("RuleArn") {
			if r.IsDefault {
				return "", &apiError{400, "OperationNotPermitted", "Default rule cannot be deleted"}
			}
			s.written()
			s.Rules = append(s.Rules[:i], s.Rules[i+1:]...)
			return "", nil
		}
	}
	return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
}

func (s *Server) describeTags(form url.Values) (string, *apiError) {
	rules := s.Rules
	if s.staleView && s.snap != nil {
		rules = s.snap.rules
	}
	var b strings.Builder
	for _, a := range list(form, "ResourceArns") {
		r := findIn(rules, a)
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
	var rules []*Rule
	for _, a := range list(form, "ResourceArns") {
		r := s.find(a)
		if r == nil {
			return "", &apiError{400, "RuleNotFound", "One or more rules not found"}
		}
		rules = append(rules, r)
	}
	for i := 1; form.Get(fmt.Sprintf("Tags.member.%d.Key", i)) != ""; i++ {
		if len(form.Get(fmt.Sprintf("Tags.member.%d.Value", i))) > 256 {
			return "", &apiError{400, "ValidationError", "tag value longer than 256"}
		}
	}
	s.written()
	for _, r := range rules {
		for i := 1; form.Get(fmt.Sprintf("Tags.member.%d.Key", i)) != ""; i++ {
			r.Tags[form.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
		}
	}
	return "", nil
}

// describeTargetHealth has no pages in the API (no Marker, no NextMarker).
// A target group that no rule or default action forwards to, even at
// weight 0, reports its targets "unused".
func (s *Server) describeTargetHealth(form url.Values) (string, *apiError) {
	tg := form.Get("TargetGroupArn")
	targets, ok := s.Health[tg]
	if !ok {
		return "", &apiError{400, "TargetGroupNotFound", "One or more target groups not found"}
	}
	used := s.attached(tg)
	var b strings.Builder
	for _, t := range targets {
		if !used {
			t.State, t.Reason = "unused", "Target.NotInUse"
		}
		fmt.Fprintf(&b, "<member><Target><Id>%s</Id><Port>80</Port></Target><TargetHealth><State>%s</State>", t.ID, t.State)
		if t.Reason != "" {
			fmt.Fprintf(&b, "<Reason>%s</Reason>", t.Reason)
		}
		b.WriteString("</TargetHealth></member>")
	}
	return "<TargetHealthDescriptions>" + b.String() + "</TargetHealthDescriptions>", nil
}

// attached tells whether any rule's actions name the target group.
func (s *Server) attached(tg string) bool {
	for _, r := range s.Rules {
		for k, v := range r.Actions {
			if strings.HasSuffix(k, "TargetGroupArn") && v[0] == tg {
				return true
			}
		}
	}
	return false
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
