package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeSlack is an HTTP server speaking the parts of the Slack Web API that
// kakeibo uses (chat.postMessage, conversations.history), with switches
// for outages, rate limits and API errors.
type fakeSlack struct {
	*httptest.Server
	mu       sync.Mutex
	messages []postedMessage
	// fail answers the next n posts with this HTTP status (500) or API
	// error ("channel_not_found"); retryAfter with 429 when set.
	failStatus int
	failErr    string
	failN      int
	retryAfter int
	requests   int
	// delay holds each successful answer back, after recording the message.
	delay  time.Duration
	tokens map[string]bool
}

type postedMessage struct {
	Channel, Text, ThreadTS, TS string
	Broadcast                   bool
	Attachments                 []map[string]any
	Metadata                    map[string]any
}

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{tokens: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.tokens[r.Header.Get("Authorization")] = true
	f.tokens["Bearer "+r.Form.Get("token")] = true
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/chat.postMessage":
		if f.failN > 0 {
			f.failN--
			switch {
			case f.retryAfter > 0:
				w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
			case f.failStatus != 0:
				w.WriteHeader(f.failStatus)
				fmt.Fprint(w, `upstream error`)
			default:
				fmt.Fprintf(w, `{"ok":false,"error":%q}`, f.failErr)
			}
			return
		}
		m := postedMessage{Channel: r.Form.Get("channel"), Text: r.Form.Get("text"), ThreadTS: r.Form.Get("thread_ts"),
			Broadcast: r.Form.Get("reply_broadcast") == "true"}
		_ = json.Unmarshal([]byte(r.Form.Get("attachments")), &m.Attachments)
		_ = json.Unmarshal([]byte(r.Form.Get("metadata")), &m.Metadata)
		m.TS = fmt.Sprintf("1700000000.%06d", len(f.messages)+1)
		f.messages = append(f.messages, m)
		if f.delay > 0 {
			f.mu.Unlock()
			time.Sleep(f.delay)
			f.mu.Lock()
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C" + m.Channel[1:], "ts": m.TS})
	case "/api/conversations.history":
		var msgs []map[string]any
		for _, m := range f.messages {
			if "C"+m.Channel[1:] == r.Form.Get("channel") || m.Channel == r.Form.Get("channel") {
				msgs = append(msgs, map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "metadata": m.Metadata})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs, "has_more": false})
	default:
		fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
	}
}

func (f *fakeSlack) posted() []postedMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]postedMessage(nil), f.messages...)
}

func (f *fakeSlack) failNext(n, status int, apiErr string, retryAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failStatus, f.failErr, f.retryAfter = n, status, apiErr, retryAfter
}

func newWebhookServer(t testing.TB, body *[]byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		*body = b
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
