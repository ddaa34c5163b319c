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
	"github.com/kakeibo-slo/kakeibo/alerting/slack/fakeslack"
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
	n, err := New(Config{Token: testToken, APIURL: api})
	require.NoError(t, err)
	d, err := alerting.NewDispatcher(alerting.DispatcherConfig{Store: store, Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: n}, MaxBackoff: 50 * time.Millisecond})
	require.NoError(t, err)
	_ = d.Run(context.Background(), nil, 20*time.Millisecond) // until killed
}

// TestRestartDelivery kills the delivering process with SIGKILL while
// notifications are pending (Slack down) and while they are being
// delivered (Slack slow), restarting it each time, in three phases: pages
// (parent messages, checked with conversations.history), then repeats and
// then resolves (thread replies, checked with conversations.replies). At
// least 20 kills land in each phase; every notification arrives exactly
// once, replies in their page's thread.
func TestRestartDelivery(t *testing.T) {
	t.Parallel() // waits on a slow or real server: runs beside the others
	f := fakeslack.New(t, testToken, "shop", "shop-sre")
	data := t.TempDir() + "/kakeibo.db"
	const incidents = 24
	enqueue := func(kind alerting.Kind) {
		db, err := bolt.Open(data, 0o600, &bolt.Options{Timeout: 5 * time.Second})
		require.NoError(t, err)
		store, err := alerting.OpenStore(db)
		require.NoError(t, err)
		var ns []alerting.Notification
		for i := range incidents {
			channel := "#shop"
			if i%2 == 1 {
				channel = "#shop-sre"
			}
			n := firing(fmt.Sprintf("incident-%d", i), channel)
			n.Kind, n.Created = kind, time.Now()
			ns = append(ns, n)
		}
		require.NoError(t, store.Apply(alerting.Change{Notifications: ns}))
		require.NoError(t, db.Close())
	}
	child := func() (*exec.Cmd, chan error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDispatcherHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KAKEIBO_RESTART_DATA="+data, "KAKEIBO_RESTART_SLACK="+f.APIURL())
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
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	phase := func(kind alerting.Kind, want int) {
		enqueue(kind)
		// Slack is down: the child retries; kill it with everything pending.
		f.FailPosts(1_000_000, 500, 0, "")
		cmd, done := child()
		time.Sleep(300 * time.Millisecond)
		kill(cmd, done)
		f.FailPosts(0, 0, 0, "")

		// Slack is back but slow: kill the child mid-delivery, many times.
		f.SlowPosts(25 * time.Millisecond)
		kills := 0
		for kills < 20 || (len(f.Messages()) < want && kills < 60) {
			cmd, done := child()
			time.Sleep(time.Duration(40+rng.IntN(160)) * time.Millisecond)
			kill(cmd, done)
			kills++
		}
		// A last child finishes the job.
		cmd, done = child()
		require.Eventually(t, func() bool { return len(f.Messages()) >= want }, 60*time.Second, 20*time.Millisecond)
		time.Sleep(300 * time.Millisecond) // anything extra would show now
		kill(cmd, done)
		f.SlowPosts(0)
		t.Logf("%s: %d kills while delivering, %d delivered before the last child", kind, kills, len(f.Messages()))
	}
	phase(alerting.KindFiring, incidents)
	phase(alerting.KindRepeat, 2*incidents)
	phase(alerting.KindResolved, 3*incidents)

	msgs := f.Messages()
	require.Len(t, once(t, msgs), 3*incidents, "every notification arrived once")
	parents := map[string]bool{}
	for _, m := range msgs {
		if m.ThreadTS == "" {
			parents[m.TS] = true
		}
	}
	require.Len(t, parents, incidents)
	for _, m := range msgs {
		if m.ThreadTS != "" {
			require.True(t, parents[m.ThreadTS], "a reply in its page's thread")
		}
	}

	db, err := bolt.Open(data, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	store, err := alerting.OpenStore(db)
	require.NoError(t, err)
	pending, err := store.Pending()
	require.NoError(t, err)
	require.Empty(t, pending)
}
