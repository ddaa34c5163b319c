package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/internal/redact"
	"github.com/kakeibo-slo/kakeibo/slo"
)

func runRemind(ctx context.Context, env *cmdEnv, args []string) int {
	var f evalFlags
	var channel, templates string
	var dryRun bool
	var timeout time.Duration
	fs := newFlagSet("remind", "--specs DIR [--channel C] [--dry-run] [source flags]",
		"Post every reminder digest now (or only those for --channel): for each SLO of\n"+
			"the service, whether it is kept, SLI vs objective, budget left and the fastest\n"+
			"burn. Slack credentials come from the environment only: SLACK_BOT_TOKEN (or\n"+
			"SLACK_WEBHOOK_URL), and SLACK_API_URL for a proxy. Without them, or with\n"+
			"--dry-run, the digests are printed instead.")
	f.register(fs)
	fs.stringVar(&channel, "channel", "KAKEIBO_CHANNEL", "", "only the reminders for this Slack `channel` (e.g. #mart)")
	fs.boolVar(&dryRun, "dry-run", "KAKEIBO_DRY_RUN", false, "print the digests instead of posting them")
	fs.durationVar(&timeout, "timeout", "KAKEIBO_TIMEOUT", 5*time.Minute, "keep retrying Slack (5xx, rate limits, timeouts) for up to this `duration`")
	fs.stringVar(&templates, "templates", "KAKEIBO_TEMPLATES", "", "`directory` with digest.en.tmpl / digest.ja.tmpl overriding the built-in templates")
	if err := fs.parse(args, env); err != nil {
		return exitFor(err)
	}
	tmpl, err := alerting.LoadTemplates(templates)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo remind: %v\n", err)
		return exitUsage
	}
	ev, code := f.evaluate(ctx, env, "remind")
	if code != exitOK {
		return code
	}

	var notifier *slack.Notifier
	token, webhook := env.getenv("SLACK_BOT_TOKEN"), env.getenv("SLACK_WEBHOOK_URL")
	if !dryRun && (token != "" || webhook != "") {
		notifier, err = slack.New(slack.Config{Token: token, WebhookURL: webhook, APIURL: env.getenv("SLACK_API_URL"), Templates: tmpl})
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo remind: %v\n", err)
			return exitUsage
		}
	} else if !dryRun {
		fmt.Fprintln(env.stderr, "kakeibo remind: no SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL: printing the digests")
	}

	now := time.Now()
	// The digest is as of --at when given; otherwise as of now, with SLOs
	// whose logs stopped arriving marked stale.
	asOf := now
	if !ev.at.IsZero() {
		asOf = ev.at
	} else {
		for i := range ev.results {
			ev.results[i] = slo.MarkStale(ev.results[i], now, slo.DefaultStaleAfter)
		}
	}
	var outbox []alerting.Notification
	printed := 0
	for _, svc := range ev.set.Services {
		var results []slo.Result
		for _, r := range ev.results {
			if r.Objective.Service == svc.Name {
				results = append(results, r)
			}
		}
		for _, rem := range svc.Notify.Reminders {
			if channel != "" && rem.Slack != channel {
				continue
			}
			d := alerting.BuildDigest(rem.Slack, rem.Language, results, asOf, rem.Location)
			alerting.GateDigest(&d, svc, results, nil, asOf)
			if notifier == nil {
				text, err := tmpl.Digest(&d)
				if err != nil {
					fmt.Fprintf(env.stderr, "kakeibo remind: %v\n", err)
					return exitFail
				}
				fmt.Fprintf(env.stdout, "# %s (service %s, %s)\n%s\n\n", rem.Slack, svc.Name, rem.Language, text)
				printed++
				continue
			}
			outbox = append(outbox, alerting.Notification{Key: "reminder/" + svc.Name, Kind: alerting.KindDigest,
				Target: alerting.Target{Via: alerting.ViaSlack, Channel: rem.Slack}, Digest: &d, Created: now, UID: alerting.NewUID()})
		}
	}
	if printed+len(outbox) == 0 {
		where := ""
		if channel != "" {
			where = " for " + channel
		}
		fmt.Fprintf(env.stderr, "kakeibo remind: no reminders configured%s\n", where)
		return exitFail
	}
	if len(outbox) == 0 {
		return exitOK
	}
	if err := deliverOnce(ctx, env, redactor(env, ev.set), notifier, outbox, timeout); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo remind: %v\n", redactor(env, ev.set).Redact(err.Error()))
		return exitFail
	}
	return exitOK
}

// deliverOnce sends notifications through the same outbox and dispatcher
// as serve (retries with backoff, rate limits, delivery checks after a
// timeout), from a temporary outbox, until all are delivered, all that is
// left failed permanently, or timeout passes.
func deliverOnce(ctx context.Context, env *cmdEnv, red *redact.Redactor, notifier alerting.Notifier, ns []alerting.Notification, timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "kakeibo-remind-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "outbox.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := alerting.OpenStore(db)
	if err != nil {
		return err
	}
	if err := store.Apply(alerting.Change{Notifications: ns}); err != nil {
		return err
	}
	logger := slog.New(red.Handler(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	disp, err := alerting.NewDispatcher(alerting.DispatcherConfig{Store: store, Logger: logger, MaxBackoff: 30 * time.Second,
		Notifiers: map[string]alerting.Notifier{alerting.ViaSlack: notifier}, Redact: red.Redact})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return disp.Drain(ctx)
}
