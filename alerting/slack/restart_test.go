package slack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
)

// TestDispatcherHelperProcess is the delivering child of TestRestartDelivery;
// it does nothing in a normal run.
func TestDispatcherHelperProcess(t *testing.T) {
	data, api := os.Getenv("KAKEIBO_RESTART_DATA"), os.Getenv("KAKEIBO_RESTART_SLACK")
	if data == "" {
		t.Skip("helper process only")
	}
	db, err := bolt.Open(data, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	n, err := New(Config{Token: testToken, APIURL: api, HTTPClient: nil})
	require.NoError(t, err)
	d, err := alerting.NewDispatcher(alerting.DispatcherConfig{Store: store, Notifier: n, MaxBackoff: 50 * time.Millisecond})
	require.NoError(t, err)
	_ = d.Run(context.Background(), nil, 20*time.Millisecond) // until killed
}

// TestRestartDelivery kills the delivering process with SIGKILL while
// notifications are pending (Slack down) and while they are being
// delivered (Slack slow), restarting it each time: every notification
// arrives exactly once.
func TestRestartDelivery(t *testing.T) {
	f := newFakeSlack(t)
	data := t.TempDir() + "/kakeibo.db"
	const total = 30
	{
		db, err := bolt.Open(data, 0o600, nil)
		require.NoError(t, err)
		store, err := alerting.OpenStore(db)
		require.NoError(t, err)
		var ns []alerting.Notification
		for i := range total {
			n := firing(fmt.Sprintf("incident-%d", i), "#shop")
			n.Created = time.Now()
			ns = append(ns, n)
		}
		require.NoError(t, store.Apply(alerting.Change{Notifications: ns}))
		require.NoError(t, db.Close())
	}
	child := func() (*exec.Cmd, chan error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDispatcherHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KAKEIBO_RESTART_DATA="+data, "KAKEIBO_RESTART_SLACK="+f.URL+"/api")
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, done
	}
	kill := func(cmd *exec.Cmd, done chan error) {
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err := <-done
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled(), "child was killed, not finished: %v", err)
	}

	// Slack is down: the child retries; kill it with everything pending.
	f.failNext(1_000_000, 500, "", 0)
	for range 3 {
		cmd, done := child()
		time.Sleep(300 * time.Millisecond)
		kill(cmd, done)
	}
	require.Empty(t, f.posted())

	// Slack is back but slow: kill the child mid-delivery, many times.
	f.failNext(0, 0, "", 0)
	f.mu.Lock()
	f.delay = 20 * time.Millisecond
	f.mu.Unlock()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	kills := 0
	for len(f.posted()) < total && kills < 40 {
		cmd, done := child()
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
		kill(cmd, done)
		kills++
	}
	// A last child finishes the job.
	cmd, done := child()
	require.Eventually(t, func() bool { return len(f.posted()) >= total }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // let it settle: anything extra would show now
	kill(cmd, done)

	seen := map[string]int{}
	for _, m := range f.posted() {
		seen[fmt.Sprint(m.Metadata["event_payload"].(map[string]any)["id"])]++
	}
	require.Len(t, seen, total, "every notification arrived")
	for id, n := range seen {
		require.Equal(t, 1, n, "notification %s delivered %d times", id, n)
	}
	t.Logf("%d kills while delivering", kills+3)

	db, err := bolt.Open(data, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	pending, err := store.Pending()
	require.NoError(t, err)
	require.Empty(t, pending)
}
