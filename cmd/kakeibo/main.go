// Command kakeibo keeps the error-budget ledger of a company's services:
// it validates SLO specs, computes SLIs, error budgets and burn rates, and
// alerts and reminds on them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/kakeibo-slo/kakeibo/internal/redact"
	"github.com/kakeibo-slo/kakeibo/slo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// KAKEIBO_CPUPROFILE=FILE writes a CPU profile of the command (go tool
	// pprof reads it): for a report or an ingest that seems slow.
	if path := os.Getenv("KAKEIBO_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	code := run(ctx, os.Args, os.Stdout, os.Stderr, os.Getenv)
	stop()
	pprof.StopCPUProfile()
	// KAKEIBO_MEMPROFILE=FILE writes a heap profile at the end: what is
	// held, and (go tool pprof -sample_index=alloc_space) what was allocated.
	if path := os.Getenv("KAKEIBO_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and found problems (invalid specs, ...)
	exitUsage = 2 // the command line or the environment is wrong
	// exitIncomplete: report printed its numbers, but log objects in range
	// could not be read (see "incomplete" in --format json).
	exitIncomplete = 3
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cmdEnv, args []string) int
}

// cmdEnv is what a subcommand may touch of the outside world.
type cmdEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"validate", "check SLO specs; exit 1 when any is invalid", runValidate},
		{"report", "evaluate every SLO once (ALB logs, Prometheus) and print the numbers", runReport},
		{"remind", "post (or print) the reminder digests now", runRemind},
		{"serve", "run the service: ingest, evaluate, alert, remind, export metrics, status page", runServe},
		{"gate", "exit 0 when a service's deploys may go ahead under its error budget policy, 1 while frozen", runGate},
		{"silence", "add, list or expire silences of a running kakeibo (planned work)", runSilence},
		{"correction", "add a correction (a time range taken out of SLIs) to a spec file, for review", runCorrection},
		{"dashboard", "print the Grafana dashboard JSON for the exported metrics", runDashboard},
		{"rules", "generate Prometheus recording and alerting rules for Prometheus-backed SLOs", runRules},
		{"import", "convert Sloth specs or OpenSLO documents into kakeibo specs", runImport},
		{"export", "write kakeibo specs as OpenSLO documents", runExport},
		{"schema", "print the JSON Schema of kakeibo specs, for editors", runSchema},
		{"healthcheck", "exit 0 when a running kakeibo is ready (container health checks without curl)", runHealthcheck},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	env := &cmdEnv{stdout: stdout, stderr: stderr, getenv: getenv}
	if v := getenv("KAKEIBO_MAX_SPEC_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "kakeibo: KAKEIBO_MAX_SPEC_BYTES=%q: want a number of bytes\n", v)
			return exitUsage
		}
		slo.MaxFileBytes = n
	}
	if len(args) < 2 {
		usage(stderr)
		return exitUsage
	}
	name := args[1]
	switch name {
	case "-h", "--help", "help":
		usage(stdout)
		return exitOK
	case "--version", "version":
		fmt.Fprintln(stdout, "kakeibo", version)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, env, args[2:])
		}
	}
	fmt.Fprintf(stderr, "kakeibo: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func usage(w io.Writer) {
	fmt.Fprintln(w, "kakeibo keeps the error-budget ledger of your services: SLOs from YAML specs,")
	fmt.Fprintln(w, "measured from AWS ALB access logs and Prometheus.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: kakeibo COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'kakeibo COMMAND --help' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "from the environment variable named in its help.")
}

// errUsage marks an error in how the command was called.
var errUsage = errors.New("usage")

// loadSpecs loads specs for a command, printing any problem: invalid specs
// exit 1, a path that cannot be read exits 2.
func loadSpecs(env *cmdEnv, cmd string, paths ...string) (*slo.Set, int) {
	set, err := slo.Load(paths...)
	if err == nil {
		return set, exitOK
	}
	fmt.Fprintf(env.stderr, "kakeibo %s: %v\n", cmd, err)
	var specErrs slo.Errors
	if errors.As(err, &specErrs) {
		return nil, exitFail
	}
	return nil, exitUsage
}

// secretNameRE matches environment variable names whose values are
// secrets by convention.
var secretNameRE = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|KEY|WEBHOOK|CREDENTIAL)`)

// redactor knows the secret values of the environment: the variables kakeibo
// reads secrets from, any variable named like a secret, and the variables
// specs name for routing keys and webhook URLs.
func redactor(env *cmdEnv, sets ...*slo.Set) *redact.Redactor {
	names := []string{"SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "KAKEIBO_API_TOKEN", "KAKEIBO_REMOTE_WRITE_TOKEN"}
	for _, kv := range os.Environ() {
		if name, _, ok := strings.Cut(kv, "="); ok && secretNameRE.MatchString(name) {
			names = append(names, name)
		}
	}
	for _, set := range sets {
		if set == nil {
			continue
		}
		for _, svc := range set.Services {
			for _, r := range []slo.Route{svc.Notify.Page, svc.Notify.Ticket} {
				if r.PagerDuty != nil {
					names = append(names, r.PagerDuty.RoutingKeyEnv)
				}
				if r.Webhook != nil {
					names = append(names, r.Webhook.URLEnv, r.Webhook.SecretEnv)
				}
			}
		}
	}
	r := redact.New()
	for _, n := range names {
		if n != "" {
			r.Add(env.getenv(n))
		}
	}
	return r
}

// webhookChannels lists the Slack channels specs route to when kakeibo
// posts through an incoming webhook (SLACK_WEBHOOK_URL without a bot
// token): a webhook posts to the one channel it was made for, whatever the
// spec says, so more than one channel means routes are not honoured.
func webhookChannels(env *cmdEnv, set *slo.Set) []string {
	if set == nil || env.getenv("SLACK_BOT_TOKEN") != "" || env.getenv("SLACK_WEBHOOK_URL") == "" {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(c string) {
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, svc := range set.Services {
		add(svc.Notify.Page.Slack)
		add(svc.Notify.Ticket.Slack)
		for _, r := range svc.Notify.Reminders {
			add(r.Slack)
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}
