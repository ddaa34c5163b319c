package alb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestPoisonObjects puts a truncated, a corrupt, a denied, a vanished and a
// stalled object among four hours of good ones in an S3 bucket (gofakes3
// over HTTP, behind a handler that answers like S3 does: 403 AccessDenied,
// 404 NoSuchKey, or accepting the GET and never answering). Every good
// object is counted exactly once, each bad one is reported with its
// reason, the ingest never stops, and a bad object is given up after five
// attempts with backoff.
func TestPoisonObjects(t *testing.T) {
	t.Parallel() // long: runs beside the package's other tests
	start := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 4*time.Hour)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)

	base := "prod/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/2026/10/01/"
	name := func(ip string) string {
		return base + "123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_20261001T1005Z_" + ip + "_0bad0bad.log.gz"
	}
	good, err := os.ReadFile(firstFile(t, dir))
	require.NoError(t, err)
	gz := bytes.NewBuffer(gzipped(t, failedRequests("1002", 200)))
	bad := map[string][]byte{
		name("10.0.9.1"): gz.Bytes()[:gz.Len()/2],                                                                   // truncated
		name("10.0.9.2"): append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xff}, 300)...), // corrupt
		name("10.0.9.3"): good,                                                                                      // denied
		name("10.0.9.4"): good,                                                                                      // vanished after the listing
		name("10.0.9.5"): good,                                                                                      // stalls
	}
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") {
			switch {
			case strings.HasSuffix(r.URL.Path, name("10.0.9.3")):
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
				return
			case strings.HasSuffix(r.URL.Path, name("10.0.9.4")):
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
				return
			case strings.HasSuffix(r.URL.Path, name("10.0.9.5")):
				<-r.Context().Done() // accepts the request, never answers
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	up, put := logBucket(t, srv.URL)
	putTree(t, dir, "prod/", put)
	for k, v := range bad {
		put(k, v)
	}

	src, err := alb.NewS3Source(t.Context(), "s3://alb-logs/prod", alb.S3Config{Client: up})
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	store := alb.NewMemStore()
	now := start.Add(5 * time.Hour)
	failures := alb.NewFailures()
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls, Failures: failures,
		ObjectTimeout: 2 * time.Second, Retries: -1, Now: func() time.Time { return now }})
	require.NoError(t, err)

	st, err := ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
	require.NoError(t, err, "bad objects never stop the ingest")
	require.EqualValues(t, 5, st.Failed)
	reasons := map[string]string{}
	for _, f := range failures.List() {
		reasons[f.Key[strings.LastIndex(f.Key, "Z_")+2:]] = f.Reason
	}
	require.Equal(t, map[string]string{
		"10.0.9.1_0bad0bad.log.gz": alb.FailTruncated, "10.0.9.2_0bad0bad.log.gz": alb.FailCorrupt,
		"10.0.9.3_0bad0bad.log.gz": alb.FailDenied, "10.0.9.4_0bad0bad.log.gz": alb.FailVanished,
		"10.0.9.5_0bad0bad.log.gz": alb.FailTimeout,
	}, reasons)
	want := truth(t, cfg, set.Objectives())
	require.Equal(t, want, storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour)), "every good object once, no bad one")

	// Again at once: the bad ones wait for their backoff, the good ones are
	// in the ledger.
	st, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
	require.NoError(t, err)
	require.EqualValues(t, 0, st.Objects)
	require.EqualValues(t, 5, st.Deferred)
	// Attempts 2..5 as the backoff allows (1m, 2m, 4m, 8m): then given up.
	for range 4 {
		now = now.Add(16 * time.Minute)
		st, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
		require.NoError(t, err)
		require.EqualValues(t, 5, st.Failed)
	}
	for _, f := range failures.List() {
		require.True(t, f.GivenUp, f.Key)
		require.Equal(t, 5, f.Attempts)
	}
	now = now.Add(24 * time.Hour)
	st, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
	require.NoError(t, err)
	require.EqualValues(t, 0, st.Failed, "given up: not tried again")
	require.EqualValues(t, 5, st.Deferred)

	// On request, they are tried again; the truncated one was re-uploaded whole.
	put(name("10.0.9.1"), gz.Bytes())
	failures.RetryAll()
	st, err = ing.Ingest(t.Context(), start, start.Add(cfg.Duration))
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Objects)
	require.EqualValues(t, 4, st.Failed)
	require.Len(t, failures.List(), 4)
	// Its 200 requests (all at 10:02) are added once; nothing else moved.
	got := storeBuckets(t, store, cls.IDs, start.Add(-48*time.Hour), start.Add(48*time.Hour))
	minute := time.Date(2026, 10, 1, 10, 2, 0, 0, time.UTC).Unix() / 60
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

func firstFile(t *testing.T, dir string) string {
	var first string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && first == "" && strings.HasSuffix(p, ".log.gz") && strings.Contains(p, "mart-api") {
			first = p
		}
		return err
	}))
	return first
}
