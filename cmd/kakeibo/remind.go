package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/slo"
)

func runRemind(ctx context.Context, env *cmdEnv, args []string) int {
	var f evalFlags
	var channel, templates string
	var dryRun bool
	fs := newFlagSet("remind", "--specs DIR [--channel C] [--dry-run] [source flags]",
		"Post every reminder digest now (or only those for --channel): for each SLO of\n"+
			"the service, whether it is kept, SLI vs objective, budget left and the fastest\n"+
			"burn. Slack credentials come from the environment only: SLACK_BOT_TOKEN (or\n"+
			"SLACK_WEBHOOK_URL), and SLACK_API_URL for a proxy. Without them, or with\n"+
			"--dry-run, the digests are printed instead.")
	f.register(fs)
	fs.stringVar(&channel, "channel", "KAKEIBO_CHANNEL", "", "only the reminders for this Slack `channel` (e.g. #mart)")
	fs.boolVar(&dryRun, "dry-run", "KAKEIBO_DRY_RUN", false, "print the digests instead of posting them")
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
	sent, failed := 0, 0
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
			d := alerting.BuildDigest(rem.Slack, rem.Language, results, now.In(rem.Location))
			if notifier == nil {
				text, err := tmpl.Digest(&d)
				if err != nil {
					fmt.Fprintf(env.stderr, "kakeibo remind: %v\n", err)
					return exitFail
				}
				fmt.Fprintf(env.stdout, "# %s (service %s, %s)\n%s\n\n", rem.Slack, svc.Name, rem.Language, text)
				sent++
				continue
			}
			n := &alerting.Notification{Key: "reminder/" + svc.Name, Kind: alerting.KindDigest, Channel: rem.Slack, Digest: &d, Created: now}
			if _, err := notifier.Notify(ctx, n, nil); err != nil {
				fmt.Fprintf(env.stderr, "kakeibo remind: %s: %v\n", rem.Slack, err)
				failed++
				continue
			}
			sent++
		}
	}
	if sent+failed == 0 {
		where := ""
		if channel != "" {
			where = " for " + channel
		}
		fmt.Fprintf(env.stderr, "kakeibo remind: no reminders configured%s\n", where)
		return exitFail
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}
