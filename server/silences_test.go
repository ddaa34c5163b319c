package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestSilenceAPI: writes need the bearer token and are off without one; a
// bad silence is refused with what is wrong; a standby answers 503; an
// expired silence stays listed as expired.
func TestSilenceAPI(t *testing.T) {
	data := t.TempDir()
	now := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	newServer := func(token string) *Server {
		s, err := New(Config{SpecPaths: []string{"../testdata/specs/mart-api.yaml"}, DataDir: data, Registry: prometheus.NewRegistry(),
			APIToken: token, Now: func() time.Time { return now }})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	active := newServer("s3cret")
	h := active.Handler()
	call := func(h http.Handler, method, path, token, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	good := `{"matchers":[{"name":"service","op":"=","value":"mart-api"}],"ends_at":"2026-10-01T14:00:00Z","created_by":"ana","comment":"CHG-1"}`

	code, _ := call(h, "POST", "/api/v1/silences", "", good)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = call(h, "POST", "/api/v1/silences", "wrong", good)
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := call(h, "POST", "/api/v1/silences", "s3cret", `{"matchers":[],"ends_at":"2026-10-01T11:00:00Z","created_by":"","comment":""}`)
	require.Equal(t, http.StatusBadRequest, code)
	for _, what := range []string{"matchers", "ends_at", "created_by", "comment"} {
		require.Contains(t, body, what)
	}
	code, body = call(h, "POST", "/api/v1/silences", "s3cret", `{"matcher":[]}`)
	require.Equal(t, http.StatusBadRequest, code, "unknown fields are refused: %s", body)

	code, body = call(h, "POST", "/api/v1/silences", "s3cret", good)
	require.Equal(t, http.StatusOK, code, body)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	code, body = call(h, "GET", "/api/v1/silences", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"state": "active"`)
	require.Contains(t, body, `"starts_at": "2026-10-01T12:00:00Z"`, "starts now by default")

	code, _ = call(h, "DELETE", "/api/v1/silences/nope", "s3cret", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = call(h, "DELETE", "/api/v1/silences/"+created.ID, "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body = call(h, "DELETE", "/api/v1/silences/"+created.ID, "s3cret", "")
	require.Equal(t, http.StatusOK, code, body)
	_, body = call(h, "GET", "/api/v1/silences", "", "")
	require.Contains(t, body, `"state": "expired"`)

	standby := newServer("s3cret")
	require.False(t, standby.active.Load())
	code, _ = call(standby.Handler(), "GET", "/api/v1/silences", "", "")
	require.Equal(t, http.StatusServiceUnavailable, code)

	require.NoError(t, active.Close())
	require.NoError(t, standby.Close())
	off := newServer("")
	code, body = call(off.Handler(), "POST", "/api/v1/silences", "anything", good)
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "KAKEIBO_API_TOKEN")
}
