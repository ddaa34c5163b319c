// Package sqsfake is an SQS queue behind a real HTTP server, for tests of
// kakeibo's SQS source. It speaks the AWS JSON 1.0 protocol the Go SDK uses
// (POST /, X-Amz-Target: AmazonSQS.<Action>; "Making API requests using the
// AWS JSON protocol" in the SQS Developer Guide) and follows the API
// reference where the source depends on it:
//
//   - ReceiveMessage returns at most MaxNumberOfMessages (1 to 10, default
//     1) visible messages, hides each for VisibilityTimeout (default the
//     queue's 30 s) and gives it a new receipt handle at every delivery;
//     with WaitTimeSeconds it waits that long for a message before
//     answering with none; MD5OfBody is the MD5 of the body, which the SDK
//     checks.
//   - DeleteMessage and DeleteMessageBatch: "If you receive a message more
//     than once, each time you receive it, you get a different receipt
//     handle. You must provide the most recently received receipt handle
//     when you request to delete the message (otherwise, the request
//     succeeds, but the message will not be deleted)." A handle never
//     issued is ReceiptHandleIsInvalid. A batch holds 1 to 10 entries with
//     distinct Ids (EmptyBatchRequest, TooManyEntriesInBatchRequest,
//     BatchEntryIdsNotDistinct).
//   - Another queue URL is QueueDoesNotExist.
//
// Delivery is at least once, as SQS's: Redeliver makes every message that
// was received and not deleted visible again (its visibility timeout
// passing), and SendDuplicate queues a body twice.
package sqsfake

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Queue is one SQS queue served over HTTP.
type Queue struct {
	// URL is the queue's URL (its name is "logs").
	URL string
	// Endpoint is the server's base URL, for the SDK's BaseEndpoint (or
	// AWS_ENDPOINT_URL_SQS).
	Endpoint string
	srv      *httptest.Server

	mu       sync.Mutex
	messages []*message
	handles  map[string]*message // every handle issued
	nextID   int
	calls    map[string]int
}

type message struct {
	id, body  string
	handle    string // the latest
	visibleAt time.Time
	deleted   bool
	receives  int
}

// Start serves a new, empty queue until Close.
func Start() *Queue {
	q := &Queue{handles: map[string]*message{}, calls: map[string]int{}}
	q.srv = httptest.NewServer(http.HandlerFunc(q.serve))
	q.Endpoint = q.srv.URL
	q.URL = q.srv.URL + "/123456789012/logs"
	return q
}

// Close stops the server.
func (q *Queue) Close() { q.srv.Close() }

// Send queues a message.
func (q *Queue) Send(body string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nextID++
	q.messages = append(q.messages, &message{id: fmt.Sprintf("m-%d", q.nextID), body: body})
}

// SendDuplicate queues body twice, as SQS may deliver a message.
func (q *Queue) SendDuplicate(body string) {
	q.Send(body)
	q.Send(body)
}

// Redeliver makes every received, undeleted message visible again.
func (q *Queue) Redeliver() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.messages {
		m.visibleAt = time.Time{}
	}
}

// Left is how many messages are not deleted.
func (q *Queue) Left() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, m := range q.messages {
		if !m.deleted {
			n++
		}
	}
	return n
}

// Calls is how many requests of an action (e.g. "ReceiveMessage") came.
func (q *Queue) Calls(action string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls[action]
}

type apiError struct {
	status int
	code   string
	msg    string
}

func (q *Queue) serve(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0") {
		writeError(w, &apiError{400, "InvalidAction", "not an AWS JSON 1.0 SQS request"})
		return
	}
	var in struct {
		QueueURL            string `json:"QueueUrl"`
		MaxNumberOfMessages int    `json:"MaxNumberOfMessages"`
		VisibilityTimeout   *int   `json:"VisibilityTimeout"`
		WaitTimeSeconds     int    `json:"WaitTimeSeconds"`
		ReceiptHandle       string `json:"ReceiptHandle"`
		Entries             []struct {
			ID            string `json:"Id"`
			ReceiptHandle string `json:"ReceiptHandle"`
		} `json:"Entries"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, &apiError{400, "InvalidParameterValue", err.Error()})
		return
	}
	q.mu.Lock()
	q.calls[action]++
	q.mu.Unlock()
	if in.QueueURL != q.URL {
		writeError(w, &apiError{400, "QueueDoesNotExist", "The specified queue does not exist."})
		return
	}
	switch action {
	case "ReceiveMessage":
		max := in.MaxNumberOfMessages
		if max == 0 {
			max = 1
		}
		if max < 1 || max > 10 {
			writeError(w, &apiError{400, "InvalidParameterValue", "MaxNumberOfMessages must be 1 to 10"})
			return
		}
		visibility := 30 * time.Second
		if in.VisibilityTimeout != nil {
			visibility = time.Duration(*in.VisibilityTimeout) * time.Second
		}
		deadline := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second)
		for {
			got := q.receive(max, visibility)
			if len(got) > 0 || !time.Now().Before(deadline) {
				out := map[string]any{}
				if len(got) > 0 {
					out["Messages"] = got
				}
				writeJSON(w, out)
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	case "DeleteMessage":
		if err := q.delete(in.ReceiptHandle); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, map[string]any{})
	case "DeleteMessageBatch":
		switch {
		case len(in.Entries) == 0:
			writeError(w, &apiError{400, "EmptyBatchRequest", "There should be at least one DeleteMessageBatchRequestEntry in the request."})
			return
		case len(in.Entries) > 10:
			writeError(w, &apiError{400, "TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10."})
			return
		}
		ids := map[string]bool{}
		type result struct {
			ID          string `json:"Id"`
			Code        string `json:"Code,omitempty"`
			Message     string `json:"Message,omitempty"`
			SenderFault bool   `json:"SenderFault,omitempty"`
		}
		successful, failed := []result{}, []result{}
		for _, e := range in.Entries {
			if ids[e.ID] {
				writeError(w, &apiError{400, "BatchEntryIdsNotDistinct", "Id " + e.ID + " repeated."})
				return
			}
			ids[e.ID] = true
			if err := q.delete(e.ReceiptHandle); err != nil {
				failed = append(failed, result{ID: e.ID, Code: err.code, Message: err.msg, SenderFault: true})
				continue
			}
			successful = append(successful, result{ID: e.ID})
		}
		writeJSON(w, map[string]any{"Successful": successful, "Failed": failed})
	default:
		writeError(w, &apiError{400, "UnsupportedOperation", action + " is not served by this fake"})
	}
}

type wireMessage struct {
	MessageID     string `json:"MessageId"`
	ReceiptHandle string `json:"ReceiptHandle"`
	MD5OfBody     string `json:"MD5OfBody"`
	Body          string `json:"Body"`
}

func (q *Queue) receive(max int, visibility time.Duration) []wireMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var out []wireMessage
	for _, m := range q.messages {
		if len(out) == max {
			break
		}
		if m.deleted || now.Before(m.visibleAt) {
			continue
		}
		m.visibleAt = now.Add(visibility)
		m.receives++
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		m.handle = m.id + "#" + hex.EncodeToString(b)
		q.handles[m.handle] = m
		sum := md5.Sum([]byte(m.body))
		out = append(out, wireMessage{MessageID: m.id, ReceiptHandle: m.handle, MD5OfBody: hex.EncodeToString(sum[:]), Body: m.body})
	}
	return out
}

func (q *Queue) delete(handle string) *apiError {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.handles[handle]
	if !ok {
		return &apiError{400, "ReceiptHandleIsInvalid", "The input receipt handle is invalid."}
	}
	if m.handle == handle { // an older handle succeeds and deletes nothing
		m.deleted = true
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", "AWS.SimpleQueueService."+e.code+";Sender")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.code, "message": e.msg})
}
