// Package fakeslack is an HTTP server speaking the parts of the Slack Web API
// kakeibo uses, as Slack documents them, for tests of kakeibo and of anything
// wired to it. It is deliberately not kind:
//
//   - chat.postMessage (https://api.slack.com/methods/chat.postMessage)
//     accepts a channel ID or a #name, answers with the channel's ID, and
//     keeps thread_ts, reply_broadcast and metadata;
//   - chat.update (https://api.slack.com/methods/chat.update) needs the
//     channel ID and the message ts;
//   - conversations.history (https://api.slack.com/methods/conversations.history)
//     needs a channel ID (a #name is channel_not_found), returns newest first
//     the channel's parent messages and broadcast thread replies only, pages
//     by cursor, and returns metadata only with include_all_metadata;
//   - conversations.replies (https://api.slack.com/methods/conversations.replies)
//     lists a thread, parent first, by channel ID and the parent's ts;
//   - conversations.list (https://api.slack.com/methods/conversations.list)
//     pages by cursor at most limit channels a page (default 100, max 1000);
//   - every method checks the bot token (form "token" or "Authorization:
//     Bearer") and answers invalid_auth for another one, token_revoked while
//     Revoke is in force;
//   - switches make posts fail with an HTTP status or a rate limit, or store
//     the message and answer late (a client that gives up does not know).
package fakeslack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message as Slack stores it.
type Message struct {
	Channel   string // channel ID
	TS        string
	ThreadTS  string // set on thread replies
	Broadcast bool
	Text      string
	// Attachments and Metadata are the decoded JSON the client sent.
	Attachments []map[string]any
	Metadata    map[string]any
	Edits       int // chat.update calls
	Posted      time.Time
}

// Server is the fake Slack.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	token    string
	revoked  string // API error every method answers while set
	channels []channel
	msgs     []*Message
	seq      int
	calls    map[string]int
	others   map[string]bool // tokens of other apps (AddToken)
	// post failures
	failN      int
	failStatus int
	failErr    string
	retryAfter int
	delay      time.Duration
	hang       chan struct{}
	// garbledReads makes history and replies answer what is not JSON.
	garbledReads bool
	// Now dates messages (ts); default time.Now.
	Now func() time.Time
}

type channel struct{ id, name string }

// New starts a fake Slack that accepts token and knows the named channels
// (without "#"); each gets an ID such as C0000000001.
func New(t testing.TB, token string, channels ...string) *Server {
	s := &Server{token: token, calls: map[string]int{}, Now: time.Now, hang: make(chan struct{})}
	for _, c := range channels {
		s.AddChannel(c)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Unhang()
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// URL of the API for slack.OptionAPIURL: ends in "/api/".
func (s *Server) APIURL() string { return s.URL + "/api/" }

// AddChannel creates a channel and returns its ID.
func (s *Server) AddChannel(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("C%010d", len(s.channels)+1)
	s.channels = append(s.channels, channel{id: id, name: strings.TrimPrefix(name, "#")})
	return id
}

// ChannelID returns the ID of a #name.
func (s *Server) ChannelID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolve(name)
}

// AddToken accepts another bot token (a second Slack app of the same
// workspace, such as an ops bot): Revoke does not touch it.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.others == nil {
		s.others = map[string]bool{}
	}
	s.others[token] = true
}

// Revoke makes every call with the token New was given answer with apiErr
// (token_revoked, invalid_auth, ...) until Restore.
func (s *Server) Revoke(apiErr string) { s.mu.Lock(); s.revoked = apiErr; s.mu.Unlock() }

// Restore undoes Revoke.
func (s *Server) Restore() { s.mu.Lock(); s.revoked = ""; s.mu.Unlock() }

// FailPosts answers the next n chat.postMessage calls with an HTTP status
// (e.g. 500), or with a rate limit when retryAfter > 0, or with an API
// error when apiErr is set. Nothing is stored.
func (s *Server) FailPosts(n, status, retryAfter int, apiErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.retryAfter, s.failErr = n, status, retryAfter, apiErr
}

// GarbleReads makes conversations.history and conversations.replies
// answer 200 with a body that is not JSON (an HTML page from a proxy in
// between, say) while on is true.
func (s *Server) GarbleReads(on bool) { s.mu.Lock(); s.garbledReads = on; s.mu.Unlock() }

// SlowPosts makes chat.postMessage store the message at once and answer
// after d (0: answer at once).
func (s *Server) SlowPosts(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Unhang releases posts held by SlowPosts and answers at once from now.
func (s *Server) Unhang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = 0
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
}

// Messages returns every stored message, replies included, in post order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
	}
	return out
}

// Calls counts the calls of an API method (e.g. "conversations.history").
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *Server) resolve(ch string) string {
	for _, c := range s.channels {
		if c.id == ch || "#"+c.name == ch || (c.name == ch && !strings.HasPrefix(ch, "C")) {
			return c.id
		}
	}
	return ""
}

func (s *Server) isID(ch string) bool {
	for _, c := range s.channels {
		if c.id == ch {
			return true
		}
	}
	return false
}

func reply(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, e string) { reply(w, map[string]any{"ok": false, "error": e}) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	s.mu.Lock()
	s.calls[method]++
	tok := r.Form.Get("token")
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok == "" {
		tok = h
	}
	switch {
	case s.revoked != "" && !s.others[tok]:
		e := s.revoked
		s.mu.Unlock()
		apiError(w, e)
		return
	case tok == "":
		s.mu.Unlock()
		apiError(w, "not_authed")
		return
	case tok != s.token && !s.others[tok]:
		s.mu.Unlock()
		apiError(w, "invalid_auth")
		return
	}
	if s.garbledReads && (method == "conversations.history" || method == "conversations.replies") {
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		return
	}
	switch method {
	case "chat.postMessage":
		s.postMessage(w, r) // unlocks
	case "chat.update":
		defer s.mu.Unlock()
		s.update(w, r)
	case "conversations.history":
		defer s.mu.Unlock()
		s.history(w, r)
	case "conversations.replies":
		defer s.mu.Unlock()
		s.replies(w, r)
	case "conversations.list":
		defer s.mu.Unlock()
		s.list(w, r)
	default:
		s.mu.Unlock()
		apiError(w, "unknown_method")
	}
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	if s.failN > 0 {
		s.failN--
		status, retry, e := s.failStatus, s.retryAfter, s.failErr
		s.mu.Unlock()
		switch {
		case retry > 0:
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
		case status != 0:
			w.WriteHeader(status)
			fmt.Fprint(w, "upstream error")
		default:
			apiError(w, e)
		}
		return
	}
	id := s.resolve(r.Form.Get("channel"))
	if id == "" {
		s.mu.Unlock()
		apiError(w, "channel_not_found")
		return
	}
	m := &Message{Channel: id, Text: r.Form.Get("text"), ThreadTS: r.Form.Get("thread_ts"),
		Broadcast: r.Form.Get("reply_broadcast") == "true", Posted: s.Now()}
	if m.ThreadTS != "" && s.find(id, m.ThreadTS) == nil {
		s.mu.Unlock()
		apiError(w, "thread_not_found")
		return
	}
	if m.Text == "" && r.Form.Get("attachments") == "" && r.Form.Get("blocks") == "" {
		s.mu.Unlock()
		apiError(w, "no_text")
		return
	}
	_ = json.Unmarshal([]byte(r.Form.Get("attachments")), &m.Attachments)
	_ = json.Unmarshal([]byte(r.Form.Get("metadata")), &m.Metadata)
	s.seq++
	m.TS = fmt.Sprintf("%d.%06d", m.Posted.Unix(), s.seq)
	s.msgs = append(s.msgs, m)
	delay, hang := s.delay, s.hang
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-hang:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up; the message stays posted
		}
		t.Stop()
	}
	reply(w, map[string]any{"ok": true, "channel": id, "ts": m.TS, "message": map[string]any{"text": m.Text}})
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.msgs {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	ch := r.Form.Get("channel")
	if !s.isID(ch) {
		apiError(w, "channel_not_found")
		return
	}
	m := s.find(ch, r.Form.Get("ts"))
	if m == nil {
		apiError(w, "message_not_found")
		return
	}
	m.Text = r.Form.Get("text")
	m.Attachments = nil
	_ = json.Unmarshal([]byte(r.Form.Get("attachments")), &m.Attachments)
	m.Edits++
	reply(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS, "text": m.Text})
}

func (s *Server) view(m *Message, withMeta bool) map[string]any {
	v := map[string]any{"type": "message", "ts": m.TS, "text": m.Text}
	if m.ThreadTS != "" {
		v["thread_ts"] = m.ThreadTS
		if m.Broadcast {
			v["subtype"] = "thread_broadcast"
		}
	}
	if withMeta && m.Metadata != nil {
		v["metadata"] = m.Metadata
	}
	return v
}

func tsFloat(ts string) float64 { f, _ := strconv.ParseFloat(ts, 64); return f }

// page cuts msgs at the cursor (an offset) and limit.
func page(msgs []map[string]any, cursor string, limit, def, maxLimit int) ([]map[string]any, string) {
	if limit <= 0 {
		limit = def
	}
	limit = min(limit, maxLimit)
	off, _ := strconv.Atoi(cursor)
	off = min(max(off, 0), len(msgs))
	end := min(off+limit, len(msgs))
	next := ""
	if end < len(msgs) {
		next = strconv.Itoa(end)
	}
	return msgs[off:end], next
}

// flag reads a boolean argument as Slack does: "1" or "true".
func flag(r *http.Request, name string) bool {
	v := r.Form.Get(name)
	return v == "1" || v == "true"
}

// between reports whether a message timestamp lies within the request's
// oldest and latest. As https://api.slack.com/methods/conversations.history
// and conversations.replies document, both bounds are exclusive unless
// inclusive is set.
func between(r *http.Request) func(ts string) bool {
	oldest, latest := tsFloat(r.Form.Get("oldest")), tsFloat(r.Form.Get("latest"))
	inclusive := flag(r, "inclusive")
	return func(ts string) bool {
		t := tsFloat(ts)
		if r.Form.Get("oldest") != "" && (t < oldest || (t == oldest && !inclusive)) {
			return false
		}
		if r.Form.Get("latest") != "" && (t > latest || (t == latest && !inclusive)) {
			return false
		}
		return true
	}
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	ch := r.Form.Get("channel")
	if !s.isID(ch) {
		apiError(w, "channel_not_found")
		return
	}
	within := between(r)
	meta := flag(r, "include_all_metadata")
	var out []map[string]any
	for i := len(s.msgs) - 1; i >= 0; i-- { // newest first
		m := s.msgs[i]
		if m.Channel != ch || (m.ThreadTS != "" && !m.Broadcast) {
			continue
		}
		if !within(m.TS) {
			continue
		}
		out = append(out, s.view(m, meta))
	}
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	pg, next := page(out, r.Form.Get("cursor"), limit, 100, 999)
	reply(w, map[string]any{"ok": true, "messages": pg, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}})
}

func (s *Server) replies(w http.ResponseWriter, r *http.Request) {
	ch, ts := r.Form.Get("channel"), r.Form.Get("ts")
	if !s.isID(ch) {
		apiError(w, "channel_not_found")
		return
	}
	parent := s.find(ch, ts)
	if parent == nil {
		apiError(w, "thread_not_found")
		return
	}
	meta := flag(r, "include_all_metadata")
	out := []map[string]any{s.view(parent, meta)}
	within := between(r)
	for _, m := range s.msgs {
		if m.Channel == ch && m.ThreadTS == ts && within(m.TS) {
			out = append(out, s.view(m, meta))
		}
	}
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	pg, next := page(out, r.Form.Get("cursor"), limit, 100, 1000)
	reply(w, map[string]any{"ok": true, "messages": pg, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	chans := slices.Clone(s.channels)
	sort.Slice(chans, func(i, j int) bool { return chans[i].id < chans[j].id })
	var all []map[string]any
	for _, c := range chans {
		all = append(all, map[string]any{"id": c.id, "name": c.name, "is_channel": true, "is_member": true})
	}
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	pg, next := page(all, r.Form.Get("cursor"), limit, 100, 1000)
	reply(w, map[string]any{"ok": true, "channels": pg, "response_metadata": map[string]any{"next_cursor": next}})
}
