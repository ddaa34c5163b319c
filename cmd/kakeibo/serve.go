package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kakeibo-slo/kakeibo/alerting"
	"github.com/kakeibo-slo/kakeibo/alerting/pagerduty"
	"github.com/kakeibo-slo/kakeibo/alerting/slack"
	"github.com/kakeibo-slo/kakeibo/alerting/webhook"
	"github.com/kakeibo-slo/kakeibo/internal/memlimit"
	"github.com/kakeibo-slo/kakeibo/server"
	"github.com/kakeibo-slo/kakeibo/slo"
	"github.com/kakeibo-slo/kakeibo/sources/alb"
	promsource "github.com/kakeibo-slo/kakeibo/sources/prometheus"
)

func runServe(ctx context.Context, env *cmdEnv, args []string) int {
	var (
		specs, listen, dataDir, albLogs, s3Region, s3Endpoint string
		promURL, promConfig, amURLs, externalURL, templates   string
		opsChannel, opsRoute                                  string
		remoteWrite, rwTenant, shard, shardLBs, sqsQueue      string
		logLevel                                              string
		readConcurrency                                       int
		memRatio                                              float64
		maxGroups                                             int
		s3PathStyle, albCounters                              bool
		albOffset                                             time.Duration
		ingestEvery, evalEvery, reloadEvery, nodeGrace        time.Duration
	)
	f := newFlagSet("serve", "--specs DIR [flags]",
		"Run the service: read ALB logs every --ingest-interval (backfilling the longest\n"+
			"window on first start), evaluate every SLO every --eval-interval, send alerts\n"+
			"and reminders, and serve /metrics, /api/v1/slos, /healthz, /readyz and a status\n"+
			"page on --listen. Specs reload on SIGHUP and when their files change; invalid\n"+
			"specs keep the last good ones running. Logs are JSON on stdout.\n"+
			"Slack: SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL (and SLACK_API_URL) from the\n"+
			"environment; without them notifications are logged. KAKEIBO_API_TOKEN enables\n"+
			"API writes (silences) for requests that send it as a bearer token.")
	f.stringVar(&specs, "specs", "KAKEIBO_SPECS", "", "spec file or `directory` (required)")
	f.stringVar(&listen, "listen", "KAKEIBO_LISTEN", ":8080", "HTTP listen `address`")
	f.stringVar(&dataDir, "data-dir", "KAKEIBO_DATA_DIR", "data", "`directory` for the database (buckets, ledger, alert state, outbox)")
	f.stringVar(&albLogs, "alb-logs", "KAKEIBO_ALB_LOGS", "", "ALB access logs: a `directory` or s3://bucket/prefix")
	f.stringVar(&s3Region, "s3-region", "AWS_REGION", "", "AWS `region` of the log bucket")
	f.stringVar(&s3Endpoint, "s3-endpoint", "KAKEIBO_S3_ENDPOINT", "", "custom S3 endpoint `URL`")
	f.boolVar(&s3PathStyle, "s3-path-style", "KAKEIBO_S3_PATH_STYLE", false, "path-style S3 addressing")
	f.stringVar(&sqsQueue, "sqs-queue-url", "KAKEIBO_SQS_QUEUE_URL", "", "SQS queue `URL` that receives the log bucket's s3:ObjectCreated notifications: new objects come from it, not from listing the bucket (listed once at start; endpoint: AWS_ENDPOINT_URL_SQS)")
	f.stringVar(&promURL, "prometheus-url", "KAKEIBO_PROMETHEUS_URL", "", "Prometheus-compatible query API `URL`")
	f.stringVar(&promConfig, "prometheus-config", "KAKEIBO_PROMETHEUS_CONFIG", "", "YAML `file` with Prometheus http_config settings")
	f.stringVar(&amURLs, "alertmanager-url", "KAKEIBO_ALERTMANAGER_URLS", "", "comma-separated Alertmanager `URLs` to post alerts to")
	f.stringVar(&externalURL, "external-url", "KAKEIBO_EXTERNAL_URL", "", "`URL` people reach this service at (alert links)")
	f.stringVar(&opsRoute, "ops-route", "KAKEIBO_OPS_ROUTE", "", "`route` told when notifications cannot be delivered; it also gets alerts of services without a route: slack:#channel, slack:#channel?token_env=VARIABLE (its own bot token), pagerduty:VARIABLE or webhook:VARIABLE (the variable holds the routing key or URL)")
	f.stringVar(&opsChannel, "ops-slack-channel", "KAKEIBO_OPS_SLACK_CHANNEL", "", "Slack `channel` for the ops route (same as --ops-route slack:#channel)")
	f.stringVar(&templates, "templates", "KAKEIBO_TEMPLATES", "", "`directory` overriding the digest templates")
	f.durationVar(&ingestEvery, "ingest-interval", "KAKEIBO_INGEST_INTERVAL", time.Minute, "how often to read new ALB logs")
	f.durationVar(&evalEvery, "eval-interval", "KAKEIBO_EVAL_INTERVAL", time.Minute, "how often to evaluate every SLO")
	f.durationVar(&reloadEvery, "reload-interval", "KAKEIBO_RELOAD_INTERVAL", 10*time.Second, "how often to check the spec files for changes")
	f.durationVar(&nodeGrace, "alb-node-grace", "KAKEIBO_ALB_NODE_GRACE", alb.DefaultNodeGrace, "how long a load balancer node may fall behind the others' deliveries before it is taken as scaled in and no longer waited for (whole minutes, at least 5m)")
	f.intVar(&readConcurrency, "read-concurrency", "KAKEIBO_READ_CONCURRENCY", 256, "most log objects fetched at once (S3 GETs in flight start at 32 and adapt up to this; parsing uses every CPU)")
	f.stringVar(&logLevel, "log-level", "KAKEIBO_LOG_LEVEL", "info", "log `level`: debug, info, warn, error")
	f.stringVar(&remoteWrite, "remote-write-url", "KAKEIBO_REMOTE_WRITE_URL", "", "Prometheus remote-write `URL` (Prometheus, Mimir, Thanos Receive, VictoriaMetrics) to write every ALB SLO's exact counts to, as kakeibo_alb_events_total counters in log time (a bearer token comes from KAKEIBO_REMOTE_WRITE_TOKEN)")
	f.stringVar(&rwTenant, "remote-write-tenant", "KAKEIBO_REMOTE_WRITE_TENANT", "", "`tenant` sent as X-Scope-OrgID with remote write (Mimir, Cortex)")
	f.stringVar(&shard, "shard", "KAKEIBO_SHARD", "", "`name` of this process among several that split the load balancers: the shard label of the counters it writes")
	f.stringVar(&shardLBs, "shard-load-balancers", "KAKEIBO_SHARD_LOAD_BALANCERS", "", "comma-separated `load balancers` (app/NAME/ID) this shard counts; the others' SLOs are no_data here")
	f.boolVar(&albCounters, "alb-counters", "KAKEIBO_ALB_COUNTERS", false, "evaluate ALB-backed SLOs from --prometheus-url, over the kakeibo_alb_events_total counters other kakeibo processes remote-write (a central status page without the logs)")
	f.durationVar(&albOffset, "alb-offset", "KAKEIBO_ALB_OFFSET", slo.DefaultALBOffset, "with --alb-counters, how far back the ALB counters are read (`offset`): the logs' delivery delay; 0 for none")
	f.intVar(&maxGroups, "max-groups", "KAKEIBO_MAX_GROUPS", slo.DefaultMaxGroups, "most groups evaluated per grouped SLO (sli.prometheus.by), the busiest first; groups are looked up every 5 minutes")
	f.float64Var(&memRatio, "memory-limit-ratio", "KAKEIBO_MEMORY_LIMIT_RATIO", 0.9, "set the Go heap's soft limit to this `ratio` of the container's memory limit (cgroup), so the garbage collector works harder before the kernel kills; 0 disables it, and GOMEMLIMIT wins")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	if specs == "" {
		fmt.Fprintln(env.stderr, "kakeibo serve: --specs is required (or set KAKEIBO_SPECS)")
		return exitUsage
	}
	if nodeGrace < 5*time.Minute || nodeGrace%time.Minute != 0 {
		fmt.Fprintf(env.stderr, "kakeibo serve: --alb-node-grace %s: want whole minutes, at least 5m (one delivery interval)\n", nodeGrace)
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo serve: --log-level: %v\n", err)
		return exitUsage
	}
	specSet, _ := slo.Load(specs) // for the secret variables routes name; errors are reported below
	red := redactor(env, specSet)
	logger := slog.New(red.Handler(slog.NewJSONHandler(env.stdout, &slog.HandlerOptions{Level: level})))

	tmpl, err := alerting.LoadTemplates(templates)
	if err != nil {
		logger.Error("cannot start", "err", err) // JSON, like every other line
		return exitUsage
	}
	if soft, err := memlimit.Apply(memRatio); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo serve: --memory-limit-ratio: %v\n", err)
		return exitUsage
	} else if soft > 0 {
		logger.Info("Go heap soft limit set from the container's memory limit", "limit_bytes", soft, "ratio", memRatio)
	}
	cfg := server.Config{
		SpecPaths: []string{specs}, DataDir: dataDir, ALBLogs: albLogs,
		S3: alb.S3Config{Region: s3Region, Endpoint: s3Endpoint, PathStyle: s3PathStyle}, SQSQueueURL: sqsQueue,
		Listen: listen, IngestInterval: ingestEvery, EvalInterval: evalEvery, ReloadInterval: reloadEvery,
		Templates: tmpl, ExternalURL: externalURL, Logger: logger, Registry: prometheus.NewRegistry(),
		Redact: red.Redact, ReadConcurrency: readConcurrency, NodeGrace: nodeGrace, APIToken: env.getenv("KAKEIBO_API_TOKEN"),
	}
	if remoteWrite != "" {
		cfg.RemoteWrite.URL = remoteWrite
		cfg.RemoteWrite.Headers = map[string]string{}
		if rwTenant != "" {
			cfg.RemoteWrite.Headers["X-Scope-OrgID"] = rwTenant
		}
		if tok := env.getenv("KAKEIBO_REMOTE_WRITE_TOKEN"); tok != "" {
			cfg.RemoteWrite.Headers["Authorization"] = "Bearer " + tok
		}
	}
	cfg.Shard = shard
	cfg.MaxGroups = maxGroups
	if albCounters {
		if promURL == "" {
			fmt.Fprintln(env.stderr, "kakeibo serve: --alb-counters reads the counters from --prometheus-url: give it too")
			return exitUsage
		}
		cfg.ALBCounters, cfg.ALBOffset = true, cmp.Or(albOffset, -1)
	}
	for _, lb := range strings.Split(shardLBs, ",") {
		if lb = strings.TrimSpace(lb); lb != "" {
			cfg.ShardLoadBalancers = append(cfg.ShardLoadBalancers, lb)
		}
	}
	cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if amURLs != "" {
		for _, u := range strings.Split(amURLs, ",") {
			cfg.AlertmanagerURLs = append(cfg.AlertmanagerURLs, strings.TrimSpace(u))
		}
	}
	if promURL != "" {
		pc := promsource.Config{URL: promURL}
		if promConfig != "" {
			if err := promsource.LoadConfigFile(promConfig, &pc); err != nil {
				logger.Error("cannot start", "err", err) // JSON, like every other line
				return exitUsage
			}
		}
		cfg.Prometheus = &pc
	}
	cfg.Notifiers = map[string]alerting.Notifier{
		alerting.ViaPagerDuty: pagerduty.New(pagerduty.Config{BaseURL: env.getenv("PAGERDUTY_API_URL"), Getenv: env.getenv, ExternalURL: externalURL}),
		alerting.ViaWebhook:   webhook.New(webhook.Config{Getenv: env.getenv}),
	}
	token, hook := env.getenv("SLACK_BOT_TOKEN"), env.getenv("SLACK_WEBHOOK_URL")
	if token != "" || hook != "" {
		n, err := slack.New(slack.Config{Token: token, WebhookURL: hook, APIURL: env.getenv("SLACK_API_URL"), Templates: tmpl})
		if err != nil {
			logger.Error("cannot start", "err", err) // JSON, like every other line
			return exitUsage
		}
		cfg.Notifiers[alerting.ViaSlack] = n
	} else {
		logger.Warn("no SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL: Slack notifications are only logged")
	}
	if chans := webhookChannels(env, specSet); len(chans) > 0 {
		logger.Warn("SLACK_WEBHOOK_URL without SLACK_BOT_TOKEN: every message goes to the webhook's one channel, not to the channels the specs name; use a bot token to honour routes", "channels", chans)
	}
	switch {
	case opsRoute != "" && opsChannel != "":
		fmt.Fprintln(env.stderr, "kakeibo serve: give --ops-route or --ops-slack-channel, not both")
		return exitUsage
	case opsChannel != "":
		cfg.Ops = alerting.Target{Via: alerting.ViaSlack, Channel: opsChannel}
	case opsRoute != "":
		if cfg.Ops, err = alerting.ParseRoute(opsRoute); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo serve: --ops-route: %v\n", err)
			return exitUsage
		}
	}
	for _, name := range []string{cfg.Ops.KeyEnv, cfg.Ops.SecretEnv, cfg.Ops.TokenEnv} {
		if name != "" {
			red.Add(env.getenv(name)) // secrets, whatever the variable is called
		}
	}
	if name := cfg.Ops.TokenEnv; name != "" {
		// The ops route's own Slack token: its failures (a revoked alerts
		// token) are not the alerts' failures.
		opsToken := env.getenv(name)
		if opsToken == "" {
			logger.Error("cannot start: --ops-route names "+name+", which is not set", "route", cfg.Ops.String())
			return exitUsage
		}
		n, err := slack.New(slack.Config{Token: opsToken, APIURL: env.getenv("SLACK_API_URL"), Templates: tmpl})
		if err != nil {
			logger.Error("cannot start", "err", err)
			return exitUsage
		}
		cfg.Notifiers[cfg.Ops.NotifierKey()] = n
	}

	srv, err := server.New(cfg)
	if err != nil {
		var specErrs slo.Errors
		if errors.As(err, &specErrs) {
			logger.Error("cannot start: invalid specs", "err", err)
			return exitFail
		}
		logger.Error("cannot start", "err", err) // JSON, like every other line
		return exitFail
	}
	defer srv.Close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			logger.Info("SIGHUP: reloading specs")
			srv.Reload()
		}
	}()
	logger.Info("starting", "version", version, "specs", specs, "data_dir", dataDir, "listen", listen)
	if err := srv.Run(ctx); err != nil {
		logger.Error("stopped", "err", err)
		return exitFail
	}
	logger.Info("stopped")
	return exitOK
}
