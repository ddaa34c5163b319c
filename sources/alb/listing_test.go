package alb_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestS3ListingReadsOnlyWhatTheWindowsNeed: a bucket with 6 days of logs of
// three load balancers with two nodes each (two of them in the specs, with
// 1-day and 3-day SLOs), behind a fake S3 that answers each GET after
// 50 ms. KAKEIBO_LISTING_DAYS=60 runs it at full scale (60 days, with 7-
// and 30-day SLOs). The first pass GETs only objects of the lookback; a caught-up
// cycle lists only today's folder, by key prefix of each load balancer in
// the specs, and GETs only new objects; counts equal the generator's truth.
func TestS3ListingReadsOnlyWhatTheWindowsNeed(t *testing.T) {
	t.Parallel() // long: runs beside the package's other tests
	if testing.Short() {
		t.Skip("slow")
	}
	days, windows := 4, [2]string{"1d", "3d"}
	if v := os.Getenv("KAKEIBO_LISTING_DAYS"); v != "" {
		_, _ = fmt.Sscan(v, &days)
		windows = [2]string{"7d", "30d"}
	}
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	cfg := albgen.Example(start, 2)
	cfg.Duration, cfg.Traps, cfg.MalformedEvery, cfg.Incidents = time.Duration(days)*24*time.Hour-2*time.Hour, false, 0, nil
	cfg.LoadBalancers[0].Nodes = []string{"10.0.1.11", "10.0.1.12"}
	other := cfg.LoadBalancers[0]
	other.Name = "app/other/0123456789abcdef"
	cfg.LoadBalancers = append(cfg.LoadBalancers, other)
	dir := t.TempDir()
	_, err := albgen.Write(cfg, dir)
	require.NoError(t, err)

	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("alb-logs"))
	var keys []string
	objects := putTree(t, dir, "prod/", func(key string, data []byte) {
		keys = append(keys, key)
		_, err := backend.PutObject("alb-logs", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
		require.NoError(t, err)
	})
	var mu sync.Mutex
	var gets, lists, startAfters []string
	fake := gofakes3.New(backend).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Has("list-type"):
			if r.URL.Query().Get("delimiter") == "" {
				lists = append(lists, r.URL.Query().Get("prefix"))
				startAfters = append(startAfters, r.URL.Query().Get("start-after"))
			}
		case r.Method == http.MethodGet:
			gets = append(gets, r.URL.Path)
		}
		mu.Unlock()
		if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") {
			time.Sleep(50 * time.Millisecond) // S3 answers a GET in tens of ms
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := s3.New(s3.Options{Region: "ap-northeast-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret-for-tests", "")})
	src, err := alb.NewS3Source(t.Context(), "s3://alb-logs/prod", alb.S3Config{Client: client})
	require.NoError(t, err)

	set, err := slo.LoadBytes("specs.yaml", []byte(fmt.Sprintf(`service: shop
slos:
  - {name: short, objective: 99.9, window: %s, sli: {alb: {load_balancer: app/mart-api/50dc6c495c0c9188}}}
  - {name: long, objective: 99.9, window: %s, sli: {alb: {load_balancer: app/web-prod/9cd2662c6b66898b}}}
`, windows[0], windows[1])))
	require.NoError(t, err)
	cls := alb.NewClassifier(set.Objectives())
	now := start.Add(time.Duration(days-1)*24*time.Hour + 12*time.Hour) // the last day, noon
	today := now.Format("2006/01/02/")
	tomorrow := now.AddDate(0, 0, 1).Format("2006/01/02/")
	src.LoadBalancers, src.Now = cls.LoadBalancers(), func() time.Time { return now }
	store := alb.NewMemStore()
	ing, err := alb.NewIngester(alb.IngestConfig{Source: src, Store: store, Classifier: cls, Now: func() time.Time { return now }})
	require.NoError(t, err)
	var back time.Duration
	for _, o := range set.Objectives() {
		back = max(back, alb.Lookback(o, now))
	}
	from := now.Add(-back)

	began := time.Now()
	st, err := ing.Ingest(t.Context(), from, now.Add(time.Hour))
	require.NoError(t, err)
	took := time.Since(began)
	for _, g := range gets {
		info := alb.ParseKey(g)
		require.False(t, info.End.Before(from.Add(-time.Hour)), "read an object older than the lookback: %s", g)
		require.NotContains(t, g, "app.other.", "read a load balancer no spec reads")
	}
	t.Logf("bucket: %d objects; first pass: %d GETs (%d objects) in %v with 50 ms a GET; %d recursive LISTs",
		objects, len(gets), st.Objects, took.Round(time.Millisecond), len(lists))
	// Every object of the two load balancers the specs read that falls in
	// the lookback is read; none older (a file's interval may straddle
	// from), none of the third.
	inRange, nearRange := 0, 0
	for _, k := range keys {
		info := alb.ParseKey(k)
		if !strings.Contains(k, "app.mart-api.") && !strings.Contains(k, "app.web-prod.") {
			continue
		}
		if !info.End.Before(from.Add(5 * time.Minute)) {
			inRange++
		}
		if !info.End.Before(from.Add(-time.Hour)) {
			nearRange++
		}
	}
	require.GreaterOrEqual(t, len(gets), inRange)
	require.LessOrEqual(t, len(gets), nearRange)
	require.Less(t, nearRange, objects*2/3, "the bucket holds objects older than the lookback")
	want := truth(t, cfg, set.Objectives())
	got := storeBuckets(t, store, cls.IDs, from, now)
	for k, c := range want {
		if k.Minute >= from.Unix()/60 && k.Minute < now.Unix()/60 {
			require.Equal(t, c, got[k], "%v", k)
		}
	}

	// Caught up, nothing new: today's folder only, per load balancer, from
	// the keys of the last hour; no GET.
	mu.Lock()
	gets, lists, startAfters = nil, nil, nil
	mu.Unlock()
	st, err = ing.Ingest(t.Context(), from, now.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, st.Objects)
	require.Empty(t, gets)
	base := "prod/AWSLogs/123456789012/elasticloadbalancing/ap-northeast-1/"
	require.ElementsMatch(t, []string{
		base + today + "123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_",
		base + today + "123456789012_elasticloadbalancing_ap-northeast-1_app.web-prod.9cd2662c6b66898b_",
		base + tomorrow + "123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_",
		base + tomorrow + "123456789012_elasticloadbalancing_ap-northeast-1_app.web-prod.9cd2662c6b66898b_",
	}, lists, "today (and tomorrow's empty folder, for clocks ahead)")
	for i, sa := range startAfters {
		require.Equal(t, lists[i]+now.Add(-alb.LateFiles).Format("20060102T1504Z"), sa, "every steady LIST starts at the last hour's keys")
	}

	// A new file arrives: only it is read.
	key := base + today + "123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_" + now.Add(5*time.Minute).Format("20060102T1504Z") + "_10.0.1.11_feedbeef.log.gz"
	data, err := os.ReadFile(firstFile(t, dir))
	require.NoError(t, err)
	_, err = backend.PutObject("alb-logs", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
	mu.Lock()
	gets = nil
	mu.Unlock()
	st, err = ing.Ingest(t.Context(), from, now.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Objects)
	require.Len(t, gets, 1)
	require.True(t, strings.HasSuffix(gets[0], "_feedbeef.log.gz"))

	// A file that lands three hours after its interval sorts before the
	// steady LIST's start: the next whole listing, FullListEvery later,
	// finds it.
	late := base + today + "123456789012_elasticloadbalancing_ap-northeast-1_app.mart-api.50dc6c495c0c9188_" + now.Add(-3*time.Hour).Format("20060102T1504Z") + "_10.0.1.19_0badcafe.log.gz"
	_, err = backend.PutObject("alb-logs", late, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	require.NoError(t, err)
	st, err = ing.Ingest(t.Context(), from, now.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, st.Objects, "not in the steady LIST")
	now = now.Add(alb.FullListEvery)
	st, err = ing.Ingest(t.Context(), from, now.Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Objects, "found by the whole listing")
}
