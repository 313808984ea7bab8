// Package smtest is an in-process fake of AWS Secrets Manager's
// GetSecretValue and PutSecretValue over their wire protocol (JSON 1.1,
// X-Amz-Target), so tests run the real SDK against it. It keeps the rules
// of the real API that deployctl relies on: versions with the staging
// labels AWSCURRENT and AWSPREVIOUS moved by PutSecretValue, a
// ClientRequestToken of 32 to 64 characters that is the new version's id,
// and its idempotency (the same token and value again create nothing; the
// same token with another value is ResourceExistsException).
package smtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The staging labels of the real service.
const (
	Current  = "AWSCURRENT"
	Previous = "AWSPREVIOUS"
)

// Version is one stored version of a secret.
type Version struct {
	ID      string
	Value   string
	Stages  []string
	Created time.Time
}

type secret struct {
	versions []*Version // oldest first
}

// Server is the fake.
type Server struct {
	URL string

	mu          sync.Mutex
	secrets     map[string]*secret
	denied      map[string]bool
	denyWrite   map[string]bool
	dropReplies int
	// Now dates new versions (default: time.Now).
	Now   func() time.Time
	Calls int
	// Puts counts PutSecretValue requests, retries included.
	Puts int
}

// Start runs the fake until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{secrets: map[string]*secret{}, denied: map[string]bool{}, denyWrite: map[string]bool{}, Now: time.Now}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Put stores a new current version of a string secret, as
// PutSecretValue does.
func (s *Server) Put(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(id, fmt.Sprintf("seed-%032d", s.count(id)), value)
}

// PutAt is Put with the version's creation date.
func (s *Server) PutAt(id, value string, created time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.put(id, fmt.Sprintf("seed-%032d", s.count(id)), value)
	v.Created = created
}

// Deny makes every call on id fail with AccessDeniedException.
func (s *Server) Deny(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[id] = true
}

// DenyWrite makes PutSecretValue on id fail with AccessDeniedException.
func (s *Server) DenyWrite(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyWrite[id] = true
}

// DropReplies makes the next n PutSecretValue calls take effect and then
// answer 500 InternalServiceError, as a reply lost on the way back.
func (s *Server) DropReplies(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropReplies = n
}

// Versions returns copies of id's versions, oldest first.
func (s *Server) Versions(id string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Version
	if sec := s.secrets[id]; sec != nil {
		for _, v := range sec.versions {
			c := *v
			c.Stages = slices.Clone(v.Stages)
			out = append(out, c)
		}
	}
	return out
}

// Staged returns the value of id's version labelled stage.
func (s *Server) Staged(id, stage string) (string, bool) {
	for _, v := range s.Versions(id) {
		if slices.Contains(v.Stages, stage) {
			return v.Value, true
		}
	}
	return "", false
}

func (s *Server) count(id string) int {
	if sec := s.secrets[id]; sec != nil {
		return len(sec.versions)
	}
	return 0
}

// put adds a version labelled AWSCURRENT: the old current becomes
// AWSPREVIOUS, the old previous loses its label.
func (s *Server) put(id, token, value string) *Version {
	sec := s.secrets[id]
	if sec == nil {
		sec = &secret{}
		s.secrets[id] = sec
	}
	for _, v := range sec.versions {
		had := slices.Contains(v.Stages, Current)
		v.Stages = slices.DeleteFunc(v.Stages, func(st string) bool { return st == Current || st == Previous })
		if had {
			v.Stages = append(v.Stages, Previous)
		}
	}
	v := &Version{ID: token, Value: value, Stages: []string{Current}, Created: s.Now()}
	sec.versions = append(sec.versions, v)
	return v
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls++
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		fail(w, "UnrecognizedClientException", "the request is not signed")
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case "secretsmanager.GetSecretValue":
		s.getSecretValue(w, r)
	case "secretsmanager.PutSecretValue":
		s.Puts++
		s.putSecretValue(w, r)
	default:
		fail(w, "UnknownOperationException", "the fake answers GetSecretValue and PutSecretValue only")
	}
}

func (s *Server) getSecretValue(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SecretId, VersionStage, VersionId string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, "InvalidRequestException", err.Error())
		return
	}
	if s.denied[in.SecretId] {
		fail(w, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:GetSecretValue")
		return
	}
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = Current
	}
	var found *Version
	if sec := s.secrets[in.SecretId]; sec != nil {
		for _, v := range sec.versions {
			if (in.VersionId == "" || v.ID == in.VersionId) && (stage == "" || slices.Contains(v.Stages, stage)) {
				found = v
			}
		}
	}
	if found == nil {
		fail(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"ARN": arn(in.SecretId), "Name": in.SecretId, "SecretString": found.Value,
		"VersionId": found.ID, "VersionStages": found.Stages, "CreatedDate": float64(found.Created.UnixMilli()) / 1000})
}

func (s *Server) putSecretValue(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SecretId, ClientRequestToken string
		SecretString                 *string
		SecretBinary                 *string
		VersionStages                []string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, "InvalidRequestException", err.Error())
		return
	}
	sec := s.secrets[in.SecretId]
	switch {
	case s.denied[in.SecretId] || s.denyWrite[in.SecretId]:
		fail(w, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:PutSecretValue")
		return
	case len(in.ClientRequestToken) < 32 || len(in.ClientRequestToken) > 64:
		fail(w, "ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
		return
	case (in.SecretString == nil) == (in.SecretBinary == nil):
		fail(w, "InvalidParameterException", "You must provide either SecretString or SecretBinary.")
		return
	case in.SecretBinary != nil:
		fail(w, "InvalidParameterException", "the fake stores SecretString only")
		return
	case len(in.VersionStages) > 0 && !slices.Equal(in.VersionStages, []string{Current}):
		fail(w, "InvalidParameterException", "the fake moves AWSCURRENT only")
		return
	case sec == nil:
		fail(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	for _, v := range sec.versions {
		if v.ID != in.ClientRequestToken {
			continue
		}
		if v.Value != *in.SecretString {
			fail(w, "ResourceExistsException", "A resource with the ID you requested already exists.")
			return
		}
		s.reply(w, in.SecretId, v) // the same request again: nothing new
		return
	}
	s.reply(w, in.SecretId, s.put(in.SecretId, in.ClientRequestToken, *in.SecretString))
}

func (s *Server) reply(w http.ResponseWriter, id string, v *Version) {
	if s.dropReplies > 0 {
		s.dropReplies--
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"__type":"InternalServiceError","message":"reply lost"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"ARN": arn(id), "Name": id, "VersionId": v.ID, "VersionStages": v.Stages})
}

func arn(id string) string { return "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + id }

func fail(w http.ResponseWriter, typ, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}
