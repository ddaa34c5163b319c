package webhook

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
)

// receiver checks signatures as the package documents them and dedupes
// deliveries by uid, as receivers are asked to.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	byUID    map[string]Message
	requests int
	fail     []int
	badSigs  int
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{secret: secret, byUID: map[string]Message{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.requests++
		want := Sign(rc.secret, r.Header.Get("X-Kakeibo-Timestamp"), body)
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Kakeibo-Signature"))) {
			rc.badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if len(rc.fail) > 0 {
			code := rc.fail[0]
			rc.fail = rc.fail[1:]
			if code == 429 {
				w.Header().Set("Retry-After", "5")
			}
			w.WriteHeader(code)
			return
		}
		var m Message
		if err := json.Unmarshal(body, &m); err != nil || m.UID != r.Header.Get("X-Kakeibo-Delivery") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.byUID[m.UID] = m
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func TestWebhookDeliveryRetriesAndSignature(t *testing.T) {
	rc := newReceiver(t, "planted-hmac-secret")
	secretURL := rc.URL + "/hooks/planted-url-token"
	env := map[string]string{"HOOK_URL": secretURL, "HOOK_SECRET": "planted-hmac-secret"}
	db, err := bolt.Open(t.TempDir()+"/k.db", 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	now := time.Date(2026, 10, 1, 14, 5, 0, 0, time.UTC)
	w := New(Config{Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return now }})
	d, err := alerting.NewDispatcher(alerting.DispatcherConfig{Store: store, Now: func() time.Time { return now },
		Notifiers: map[string]alerting.Notifier{alerting.ViaWebhook: w}})
	require.NoError(t, err)
	target := alerting.Target{Via: alerting.ViaWebhook, KeyEnv: "HOOK_URL", SecretEnv: "HOOK_SECRET"}
	snap := &alerting.Snapshot{Service: "mart-api", SLO: "availability", Alert: "page-1h", Severity: "page"}
	var ns []alerting.Notification
	for _, k := range []alerting.Kind{alerting.KindFiring, alerting.KindRepeat, alerting.KindResolved} {
		ns = append(ns, alerting.Notification{Key: "mart-api/availability/page-1h", Incident: "i@1", Kind: k, Target: target, Alert: snap, Created: now, UID: alerting.NewUID()})
	}
	rc.fail = []int{429, 503}
	require.NoError(t, store.Apply(alerting.Change{Notifications: ns}))
	for range 60 {
		_, err := d.Flush(t.Context())
		require.NoError(t, err)
		now = now.Add(time.Second)
	}
	require.Zero(t, rc.badSigs)
	require.Len(t, rc.byUID, 3)
	for _, n := range ns {
		m := rc.byUID[n.UID]
		require.Equal(t, string(n.Kind), m.Kind)
	}
	require.Equal(t, "resolved", rc.byUID[ns[2].UID].Status)

	// A dead endpoint: the error names the variable, never the URL.
	rc.Close()
	require.NoError(t, store.Apply(alerting.Change{Notifications: ns[:1]}))
	_, err = d.Flush(t.Context())
	require.NoError(t, err)
	pending, err := store.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.NotContains(t, pending[0].LastError, "planted-url-token")
	require.True(t, strings.Contains(pending[0].LastError, "$HOOK_URL"), pending[0].LastError)
}

func TestWebhookWrongSecretIsRejected(t *testing.T) {
	rc := newReceiver(t, "the-right-secret")
	w := New(Config{Getenv: func(k string) string { return map[string]string{"U": rc.URL, "S": "a-wrong-secret"}[k] }})
	n := &alerting.Notification{Key: "k", Kind: alerting.KindFiring, Target: alerting.Target{Via: alerting.ViaWebhook, KeyEnv: "U", SecretEnv: "S"}, UID: "u1"}
	_, err := w.Notify(t.Context(), n, nil)
	var se *alerting.SendError
	require.ErrorAs(t, err, &se)
	require.True(t, se.Permanent)
	require.Equal(t, "http_401", se.Reason)
	require.Equal(t, 1, rc.badSigs)
}
