package alb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestStalledAndOddObjects: among two hours of good objects in S3
// (gofakes3 over HTTP), one GET stalls half-way through its body the first
// time and answers whole the second; one never sends a byte; one stalls
// after its first bytes every time; one is named .log.gz but holds plain
// text; and a copy of a good object sits in a backup/ folder with the same
// date folders. The ingest returns; the object that stalled once is
// counted once; the ones that always stall fail as timeouts after the
// retries, the plain one as not_gzip, none of them counted; the backup copy
// is never fetched, and is counted as outside the layout.
func TestStalledAndOddObjects(t *testing.T) {
	start := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 2*time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)

	base := "prod/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/01/"
	name := func(ip string) string {
		return "123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_20261001T0905Z_" + ip + "_0bad0bad.log.gz"
	}
	once := bytes.NewBuffer(gzipped(t, failedRequests("0902", 200))) // counted when read
	plain := failedRequests("0903", 100)
	objects := map[string][]byte{
		base + name("10.0.9.1"):                      once.Bytes(),  // stalls mid-body once
		base + name("10.0.9.2"):                      once.Bytes(),  // never answers
		base + name("10.0.9.3"):                      once.Bytes(),  // stalls mid-body every time
		base + name("10.0.9.4"):                      []byte(plain), // not gzip
		"prod/backup/2026/10/01/" + name("10.0.9.5"): once.Bytes(),  // outside the layout
	}

	var mu sync.Mutex
	gets := map[string]int{}
	release := make(chan struct{})
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") {
			id := r.URL.Path[strings.LastIndex(r.URL.Path, "Z_")+2:]
			mu.Lock()
			gets[id]++
			n := gets[id]
			mu.Unlock()
			stallMidBody := func(body []byte) {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(body[:len(body)/2])
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}
			switch {
			case strings.Contains(r.URL.Path, "_10.0.9.1_") && n == 1:
				stallMidBody(once.Bytes())
				return
			case strings.Contains(r.URL.Path, "_10.0.9.2_"):
				select { // accepts the request, never answers
				case <-r.Context().Done():
				case <-release:
				}
				return
			case strings.Contains(r.URL.Path, "_10.0.9.3_"):
				stallMidBody(once.Bytes())
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(release) // first: a handler still stalling would hold Close
	up, put := logBucket(t, srv.URL)
	putTree(t, dir, "prod/", put)
	for k, v := range objects {
		put(k, v)
	}

	src, err := alb.NewS3Source(t.Context(), "s3://alb-logs/prod", alb.S3Config{Client: up})
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	store := alb.NewMemStore()
	failures := alb.NewFailures()
	// A stall is two seconds without a byte: far above what a loopback GET
	// waits between two reads on a busy machine, far below a test timeout.
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls, Failures: failures,
		StallTimeout: 2 * time.Second, RetryBackoff: 10 * time.Millisecond})
	require.NoError(t, err)

	st, err := ing.Ingest(t.Context(), start.Add(-time.Hour), start.Add(cfg.Duration+time.Hour))
	require.NoError(t, err, "stalled objects never stop the ingest")
	reasons := map[string]string{}
	for _, f := range failures.List() {
		reasons[f.Key[strings.LastIndex(f.Key, "Z_")+2:]] = f.Reason
	}
	require.Equal(t, map[string]string{
		"10.0.9.2_0bad0bad.log.gz": alb.FailTimeout, "10.0.9.3_0bad0bad.log.gz": alb.FailTimeout,
		"10.0.9.4_0bad0bad.log.gz": alb.FailNotGzip,
	}, reasons)
	require.EqualValues(t, 3, st.Failed)
	mu.Lock()
	require.Equal(t, 2, gets["10.0.9.1_0bad0bad.log.gz"], "stalled once, then read whole")
	require.Equal(t, 3, gets["10.0.9.2_0bad0bad.log.gz"], "tried again twice within the run")
	require.Equal(t, 3, gets["10.0.9.3_0bad0bad.log.gz"])
	require.Zero(t, gets["10.0.9.5_0bad0bad.log.gz"], "the backup copy is never fetched")
	mu.Unlock()
	require.EqualValues(t, 1, src.OutsideLayout())

	// Every good object once, the one that stalled once too (its 200 bad
	// requests at 09:02, once), nothing of the others.
	want := truth(t, cfg, set.Objectives())
	got := storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour))
	minute := time.Date(2026, 10, 1, 9, 2, 0, 0, time.UTC).Unix() / 60
	for k, c := range got {
		w := want[k]
		if k.Minute == minute && strings.HasPrefix(k.SLI, "mart/") {
			require.Equal(t, w.Total+200, c.Total, k.SLI)
			continue
		}
		require.Equal(t, w, c, "%v", k)
	}
	require.Len(t, got, len(want))
}
