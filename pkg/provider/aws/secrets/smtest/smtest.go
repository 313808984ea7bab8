// Package smtest is an in-process fake of AWS Secrets Manager's
// GetSecretValue over its wire protocol (JSON 1.1, X-Amz-Target), so tests
// run the real SDK against it.
package smtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is the fake.
type Server struct {
	URL string

	mu      sync.Mutex
	secrets map[string]string
	denied  map[string]bool
	Calls   int
}

// Start runs the fake until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{secrets: map[string]string{}, denied: map[string]bool{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Put stores a string secret.
func (s *Server) Put(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = value
}

// Deny makes reads of id fail with AccessDeniedException.
func (s *Server) Deny(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[id] = true
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls++
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		fail(w, "UnknownOperationException", "the fake answers signed GetSecretValue only")
		return
	}
	var in struct {
		SecretId     string
		VersionStage string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, "InvalidRequestException", err.Error())
		return
	}
	v, ok := s.secrets[in.SecretId]
	switch {
	case s.denied[in.SecretId]:
		fail(w, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:GetSecretValue")
	case !ok || (in.VersionStage != "" && in.VersionStage != "AWSCURRENT"):
		fail(w, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	default:
		json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + in.SecretId, "Name": in.SecretId, "SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.7e9})
	}
}

func fail(w http.ResponseWriter, typ, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}
