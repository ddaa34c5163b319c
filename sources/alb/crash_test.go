package alb_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	"github.com/kakeibo-slo/kakeibo/sources/alb/albgen"
)

// TestCrashHelperProcess is the ingesting child of TestCrashResume; it does
// nothing in a normal run.
func TestCrashHelperProcess(t *testing.T) {
	logs, data := os.Getenv("KAKEIBO_CRASH_LOGS"), os.Getenv("KAKEIBO_CRASH_DATA")
	if logs == "" {
		t.Skip("helper process only")
	}
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	db, err := alb.OpenDB(data)
	require.NoError(t, err)
	defer db.Close()
	store, err := alb.OpenBoltStore(db)
	require.NoError(t, err)
	ing, err := alb.NewIngester(alb.IngestConfig{Source: &alb.DirSource{Root: logs}, Store: store, Classifier: alb.NewClassifier(set.Objectives())})
	require.NoError(t, err)
	_, err = ing.Ingest(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
}

// TestCrashResume kills an ingesting child process with SIGKILL at random
// points, at least 20 times, restarting it each time; the final counts must
// equal the truth exactly: nothing lost, nothing counted twice.
func TestCrashResume(t *testing.T) {
	t.Parallel() // long: runs beside the package's other tests
	if testing.Short() {
		t.Skip("slow")
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cfg := genConfig(start, 30*time.Minute) // half an hour at 400 req/min per load balancer: kills land in every phase
	for i := range cfg.LoadBalancers {
		cfg.LoadBalancers[i].PerMinute = 400
	}
	logs := t.TempDir()
	_, err := albgen.Write(cfg, logs)
	require.NoError(t, err)
	set, err := slo.LoadBytes("specs.yaml", []byte(testSpecs))
	require.NoError(t, err)
	want := truth(t, cfg, set.Objectives())
	ids := alb.NewClassifier(set.Objectives()).IDs

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	child := func(data string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KAKEIBO_CRASH_LOGS="+logs, "KAKEIBO_CRASH_DATA="+data)
		return cmd
	}
	readStore := func(data string) map[alb.BucketKey]alb.Count {
		db, err := alb.OpenDB(data)
		require.NoError(t, err)
		defer db.Close()
		store, err := alb.OpenBoltStore(db)
		require.NoError(t, err)
		return storeBuckets(t, store, ids, start.Add(-time.Hour), start.Add(cfg.Duration+time.Hour))
	}

	// A clean run: its duration sets when to kill (so kills land mid-work
	// whether or not the race detector slows the child), and its counts are
	// the reference besides the generator's truth.
	clean := t.TempDir()
	began := time.Now()
	out, err := child(clean).CombinedOutput()
	require.NoError(t, err, "%s", out)
	runTime := time.Since(began)
	require.Equal(t, want, readStore(clean))

	kills, rounds := 0, 0
	for kills < 20 {
		rounds++
		data := t.TempDir()
		for {
			cmd := child(data)
			require.NoError(t, cmd.Start())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err, "child finished on its own")
			case <-time.After(time.Duration(rng.Int64N(int64(runTime)))):
				// The child may have ended (and been reaped) just before:
				// then the kill finds no process, and the child's own exit
				// status is checked below.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
					require.NoError(t, err)
				}
				err := <-done
				var exit *exec.ExitError
				if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
					kills++
					continue // restart after the crash
				}
				require.NoError(t, err, "child finished just before the kill")
			}
			break
		}
		// The child that finished read everything left: check the store.
		require.Equal(t, want, readStore(data), "round %d after %d kills", rounds, kills)
	}
	t.Logf("clean run %s; %d kills over %d rounds; counts exact after each", runTime.Round(time.Millisecond), kills, rounds)
}
