package r53test

import (
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

const ns = "https://route53.amazonaws.com/doc/2013-04-01/"

type apiError struct {
	status        int
	code, message string
	batch         []string // InvalidChangeBatch messages: its own XML shape
}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	op, arg := route(req.Method, req.URL.Path)
	auth := req.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256") || !strings.Contains(auth, "/us-east-1/route53/aws4_request") {
		writeError(w, &apiError{status: 403, code: "IncompleteSignature", message: "the request must be signed with SigV4 for us-east-1/route53"})
		return
	}
	s.mu.Lock()
	s.Calls = append(s.Calls, Call{Op: op, Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Body: string(body)})
	out, aerr := s.dispatch(op, arg, req, body)
	drop := aerr == nil && s.DropReplies[op] > 0
	if drop {
		s.DropReplies[op]--
	}
	if aerr != nil && aerr.code == "drop" {
		drop = true
	}
	s.mu.Unlock()
	if drop {
		dropConnection(w)
		return
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "fake-1")
	fmt.Fprintf(w, `<?xml version="1.0"?>`+"\n"+`<%sResponse xmlns="%s">%s</%sResponse>`, op, ns, out, op)
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("r53test: the response writer cannot drop the connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// route names the operation of a request and its path argument.
func route(method, path string) (op, arg string) {
	rest, ok := strings.CutPrefix(path, "/2013-04-01/")
	if !ok {
		return "Unknown", ""
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && method == http.MethodPost:
		return "ChangeResourceRecordSets", parts[1]
	case len(parts) == 3 && parts[0] == "hostedzone" && parts[2] == "rrset" && method == http.MethodGet:
		return "ListResourceRecordSets", parts[1]
	case len(parts) == 2 && parts[0] == "change" && method == http.MethodGet:
		return "GetChange", parts[1]
	case len(parts) == 3 && parts[0] == "healthcheck" && parts[2] == "status" && method == http.MethodGet:
		return "GetHealthCheckStatus", parts[1]
	}
	return "Unknown", ""
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "fake-err")
	w.WriteHeader(e.status)
	if e.batch != nil {
		var msgs strings.Builder
		for _, m := range e.batch {
			fmt.Fprintf(&msgs, "<Message>%s</Message>", html.EscapeString(m))
		}
		fmt.Fprintf(w, `<?xml version="1.0"?>`+"\n"+`<InvalidChangeBatch xmlns="%s"><Messages>%s</Messages><RequestId>fake-err</RequestId></InvalidChangeBatch>`, ns, msgs.String())
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0"?>`+"\n"+`<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-err</RequestId></ErrorResponse>`,
		ns, e.code, html.EscapeString(e.message))
}

func (s *Server) dispatch(op, arg string, req *http.Request, body []byte) (string, *apiError) {
	if f := s.Faults[op]; f != nil && f.After > 0 {
		f.After--
	} else if f != nil && f.Times != 0 {
		f.Times--
		if f.Drop {
			return "", &apiError{code: "drop"}
		}
		return "", &apiError{status: f.Status, code: f.Code, message: f.Message}
	}
	switch op {
	case "ChangeResourceRecordSets":
		return s.change(arg, body)
	case "ListResourceRecordSets":
		return s.list(arg, req)
	case "GetChange":
		return s.getChange(arg)
	case "GetHealthCheckStatus":
		return s.healthStatus(arg)
	}
	return "", &apiError{status: 400, code: "InvalidInput", message: "the fake does not implement " + req.Method + " " + req.URL.Path}
}

func noZone(id string) *apiError {
	return &apiError{status: 404, code: "NoSuchHostedZone", message: "No hosted zone found with ID: " + id}
}

type changeRequest struct {
	XMLName xml.Name     `xml:"ChangeResourceRecordSetsRequest"`
	Comment string       `xml:"ChangeBatch>Comment"`
	Changes []ChangeItem `xml:"ChangeBatch>Changes>Change"`
}

func (s *Server) change(zoneID string, body []byte) (string, *apiError) {
	z := s.Zones[zoneID]
	if z == nil {
		return "", noZone(zoneID)
	}
	var cr changeRequest
	if err := xml.Unmarshal(body, &cr); err != nil || cr.XMLName.Space != ns {
		return "", &apiError{status: 400, code: "InvalidInput", message: fmt.Sprintf("malformed ChangeResourceRecordSetsRequest (namespace %q): %v", cr.XMLName.Space, err)}
	}
	if len(cr.Changes) == 0 {
		return "", &apiError{status: 400, code: "InvalidInput", message: "1 validation error detected: Value null at 'changeBatch.changes' failed to satisfy constraint: Member must not be null"}
	}
	records := slices.Clone(z.Records)
	var msgs []string
	for _, c := range cr.Changes {
		c.Record.Name = fqdn(strings.ToLower(c.Record.Name))
		c.Record.XMLName = xml.Name{}
		if e := validate(c); e != nil {
			return "", e
		}
		if !strings.HasSuffix(c.Record.Name, "."+z.Name) && c.Record.Name != z.Name {
			msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", c.Record.Name, z.Name))
			continue
		}
		var msg string
		records, msg = apply(records, c)
		if msg != "" {
			msgs = append(msgs, msg)
		}
	}
	if msgs == nil {
		msgs = conflicts(records)
	}
	if msgs != nil {
		return "", &apiError{status: 400, code: "InvalidChangeBatch", batch: msgs}
	}
	s.seq++
	ch := &Change{ID: fmt.Sprintf("C%012dFAKE", s.seq), Batch: cr.Changes, Changed: !reflect.DeepEqual(records, z.Records)}
	z.Records = records
	s.Changes[ch.ID] = ch
	return changeInfo(ch, "PENDING"), nil
}

// validate is the InvalidInput checks of one change.
func validate(c ChangeItem) *apiError {
	r := c.Record
	bad := func(msg string) *apiError {
		return &apiError{status: 400, code: "InvalidInput", message: fmt.Sprintf("Invalid request: %s in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=%s]", msg, c.Action, r.Name, r.Type, orNull(r.SetIdentifier))}
	}
	switch {
	case c.Action != "CREATE" && c.Action != "DELETE" && c.Action != "UPSERT":
		return bad("Invalid Action " + strconv.Quote(c.Action))
	case r.Type == "":
		return bad("Missing field 'Type'")
	case r.Failover != "" && r.SetIdentifier == "":
		return bad("Missing field 'SetIdentifier'")
	case r.SetIdentifier != "" && r.Failover == "" && r.Weight == nil && r.Region == "":
		return bad("Missing field 'Failover' (or another routing policy) for a record with a SetIdentifier")
	case r.Failover != "" && r.Failover != "PRIMARY" && r.Failover != "SECONDARY":
		return bad("Invalid value for Failover: " + r.Failover)
	case r.Alias != nil && (len(r.Values) > 0 || r.TTL != nil):
		return bad("an alias record has neither ResourceRecords nor a TTL")
	case r.Alias == nil && len(r.Values) == 0:
		return bad("Missing field 'ResourceRecords'")
	case r.Alias == nil && r.TTL == nil:
		return bad("Missing field 'TTL'")
	}
	return nil
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

func describe(r RecordSet) string {
	return fmt.Sprintf("[name='%s', type='%s', set-identifier='%s']", r.Name, r.Type, r.SetIdentifier)
}

// apply applies one change to records, or says why it cannot.
func apply(records []RecordSet, c ChangeItem) ([]RecordSet, string) {
	i := slices.IndexFunc(records, func(x RecordSet) bool { return x.key() == c.Record.key() })
	switch c.Action {
	case "CREATE":
		if i >= 0 {
			return records, "Tried to create resource record set " + describe(c.Record) + " but it already exists"
		}
		return append(records, c.Record), ""
	case "DELETE":
		if i < 0 {
			return records, "Tried to delete resource record set " + describe(c.Record) + " but it was not found"
		}
		if !reflect.DeepEqual(norm(records[i]), norm(c.Record)) {
			return records, "Tried to delete resource record set " + describe(c.Record) + " but the values provided do not match the current values"
		}
		return slices.Delete(records, i, i+1), ""
	}
	if i >= 0 { // UPSERT
		records[i] = c.Record
		return records, ""
	}
	return append(records, c.Record), ""
}

// norm is r as DELETE compares it: names and alias targets without case
// or trailing dot differences.
func norm(r RecordSet) RecordSet {
	r.XMLName = xml.Name{}
	r.Name = strings.ToLower(fqdn(r.Name))
	if r.Alias != nil {
		a := *r.Alias
		a.DNSName = strings.ToLower(fqdn(a.DNSName))
		r.Alias = &a
	}
	return r
}

// conflicts checks the batch's result: failover and simple records of one
// name and type do not mix, and each role appears once.
func conflicts(records []RecordSet) []string {
	var msgs []string
	roles := map[string]int{}
	simple := map[string]bool{}
	for _, r := range records {
		nt := strings.ToLower(r.Name) + "|" + r.Type
		if r.SetIdentifier == "" {
			simple[nt] = true
		}
		if r.Failover != "" {
			roles[nt+"|"+r.Failover]++
			if roles[nt+"|"+r.Failover] > 1 {
				msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s, type %s has more than one %s failover record", r.Name, r.Type, r.Failover))
			}
		}
	}
	for _, r := range records {
		nt := strings.ToLower(r.Name) + "|" + r.Type
		if r.SetIdentifier != "" && simple[nt] {
			msgs = append(msgs, fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type %s with the same DNS name already exists", r.Type, r.Name, r.Type))
			break
		}
	}
	return msgs
}

func changeInfo(ch *Change, status string) string {
	return fmt.Sprintf("<ChangeInfo><Id>/change/%s</Id><Status>%s</Status><SubmittedAt>2026-12-03T10:00:00.000Z</SubmittedAt></ChangeInfo>", ch.ID, status)
}

func (s *Server) getChange(id string) (string, *apiError) {
	ch := s.Changes[id]
	if ch == nil {
		return "", &apiError{status: 404, code: "NoSuchChange", message: "A change with the specified change ID does not exist: " + id}
	}
	ch.Polls++
	status := "PENDING"
	if ch.Polls > s.SyncAfter {
		status = "INSYNC"
	}
	return changeInfo(ch, status), nil
}

func (s *Server) list(zoneID string, req *http.Request) (string, *apiError) {
	z := s.Zones[zoneID]
	if z == nil {
		return "", noZone(zoneID)
	}
	q := req.URL.Query()
	name, typ, id := q.Get("name"), q.Get("type"), q.Get("identifier")
	if typ != "" && name == "" {
		return "", &apiError{status: 400, code: "InvalidInput", message: "The input is not valid: type is specified without name"}
	}
	if id != "" && typ == "" {
		return "", &apiError{status: 400, code: "InvalidInput", message: "The input is not valid: identifier is specified without name and type"}
	}
	max := s.PageSize
	if v := q.Get("maxitems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return "", &apiError{status: 400, code: "InvalidInput", message: "maxitems must be a positive number"}
		}
		max = min(n, max)
	}
	recs := slices.Clone(z.Records)
	slices.SortFunc(recs, less)
	start := RecordSet{Name: fqdn(strings.ToLower(name)), Type: typ, SetIdentifier: id}
	var page []RecordSet
	for _, r := range recs {
		if name != "" && less(r, start) < 0 {
			continue
		}
		page = append(page, r)
	}
	var out strings.Builder
	out.WriteString("<ResourceRecordSets>")
	for i, r := range page {
		if i == max {
			break
		}
		b, _ := xml.Marshal(r)
		out.Write(b)
	}
	out.WriteString("</ResourceRecordSets>")
	if len(page) > max {
		n := page[max]
		fmt.Fprintf(&out, "<IsTruncated>true</IsTruncated><NextRecordName>%s</NextRecordName><NextRecordType>%s</NextRecordType>", n.Name, n.Type)
		if n.SetIdentifier != "" {
			fmt.Fprintf(&out, "<NextRecordIdentifier>%s</NextRecordIdentifier>", html.EscapeString(n.SetIdentifier))
		}
	} else {
		out.WriteString("<IsTruncated>false</IsTruncated>")
	}
	fmt.Fprintf(&out, "<MaxItems>%d</MaxItems>", max)
	return out.String(), nil
}

func (s *Server) healthStatus(id string) (string, *apiError) {
	obs, ok := s.HealthChecks[id]
	if !ok {
		return "", &apiError{status: 404, code: "NoSuchHealthCheck", message: "No health check exists with the specified ID " + id}
	}
	var out strings.Builder
	out.WriteString("<HealthCheckObservations>")
	for _, o := range obs {
		word := "Success"
		if !o.Healthy {
			word = "Failure"
		}
		fmt.Fprintf(&out, "<HealthCheckObservation><Region>%s</Region><IPAddress>%s</IPAddress><StatusReport><Status>%s: %s</Status><CheckedTime>2026-12-03T10:00:00.000Z</CheckedTime></StatusReport></HealthCheckObservation>",
			o.Region, o.IP, word, html.EscapeString(o.Detail))
	}
	out.WriteString("</HealthCheckObservations>")
	return out.String(), nil
}
