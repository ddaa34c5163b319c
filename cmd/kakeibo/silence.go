package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kakeibo-slo/kakeibo/alerting"
)

// runSilence manages the silences of a running kakeibo through its API:
// add, list, expire.
func runSilence(ctx context.Context, env *cmdEnv, args []string) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "add":
		return runSilenceAdd(ctx, env, args)
	case "list", "ls":
		return runSilenceList(ctx, env, args)
	case "expire", "rm":
		return runSilenceExpire(ctx, env, args)
	case "-h", "--help", "help":
		fmt.Fprint(env.stdout, silenceUsage)
		return exitOK
	}
	fmt.Fprint(env.stderr, silenceUsage)
	return exitUsage
}

const silenceUsage = `Usage: kakeibo silence add|list|expire [flags]

Silences mute the notifications of matching alerts for planned work;
evaluation and history go on, and an alert still firing when its silence
ends is sent then, once. Matchers test service, slo, severity (page,
ticket) and the labels specs set: name=value, name!=value, name=~regexp,
name!~regexp.

  kakeibo silence add --duration 2h --comment "CHG-1234 database upgrade" service=checkout
  kakeibo silence list
  kakeibo silence expire ID

The service is asked at --url (env KAKEIBO_URL); add and expire send the
token in KAKEIBO_API_TOKEN. Run 'kakeibo silence add --help' for flags.
`

// silenceClient talks to a running kakeibo's silence API.
type silenceClient struct {
	base, token string
	timeout     time.Duration
}

func (c silenceClient) do(ctx context.Context, method, path string, body any, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// silenceFlags are the flags every silence subcommand has.
func silenceFlags(f *flagSet, c *silenceClient) {
	f.stringVar(&c.base, "url", "KAKEIBO_URL", "http://127.0.0.1:8080", "base `URL` of the running kakeibo")
	f.durationVar(&c.timeout, "timeout", "", 10*time.Second, "give up after this `duration`")
}

func runSilenceAdd(ctx context.Context, env *cmdEnv, args []string) int {
	var c silenceClient
	var comment, author, start, end string
	var dur time.Duration
	f := newFlagSet("silence add", "--comment TEXT [--duration D | --end TIME] MATCHER...",
		"Mute the notifications of alerts matching every MATCHER from --start (default\n"+
			"now) for --duration or until --end (RFC 3339 times). Needs KAKEIBO_API_TOKEN.")
	silenceFlags(f, &c)
	f.stringVar(&comment, "comment", "", "", "why: the change ticket, the maintenance (required)")
	f.stringVar(&author, "author", "USER", "", "who is silencing (default $USER)")
	f.stringVar(&start, "start", "", "", "start `time` (RFC 3339; default now)")
	f.stringVar(&end, "end", "", "", "end `time` (RFC 3339)")
	f.durationVar(&dur, "duration", "", time.Hour, "how long, when --end is not given")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	c.token = env.getenv("KAKEIBO_API_TOKEN")
	sil := alerting.Silence{Comment: comment, CreatedBy: author}
	for _, op := range f.operands {
		m, err := alerting.ParseMatcher(op)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo silence add: %v\n", err)
			return exitUsage
		}
		sil.Matchers = append(sil.Matchers, m)
	}
	now := time.Now()
	sil.StartsAt = now
	if start != "" {
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo silence add: --start: %v\n", err)
			return exitUsage
		}
		sil.StartsAt = t
	}
	sil.EndsAt = sil.StartsAt.Add(dur)
	if end != "" {
		t, err := time.Parse(time.RFC3339, end)
		if err != nil {
			fmt.Fprintf(env.stderr, "kakeibo silence add: --end: %v\n", err)
			return exitUsage
		}
		sil.EndsAt = t
	}
	if err := sil.Validate(); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo silence add: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return exitUsage
	}
	var got struct{ ID string }
	if err := c.do(ctx, http.MethodPost, "/api/v1/silences", sil, &got); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo silence add: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(env.stdout, got.ID)
	return exitOK
}

func runSilenceList(ctx context.Context, env *cmdEnv, args []string) int {
	var c silenceClient
	var all, asJSON bool
	f := newFlagSet("silence list", "[--all] [--json]", "List the pending and active silences (with --all, also those that ended this week).")
	silenceFlags(f, &c)
	f.boolVar(&all, "all", "", false, "also list expired silences")
	f.boolVar(&asJSON, "json", "", false, "print JSON")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	var list []struct {
		alerting.Silence
		State string `json:"state"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/silences", nil, &list); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo silence list: %v\n", err)
		return exitFail
	}
	shown := list[:0]
	for _, s := range list {
		if all || s.State != alerting.SilenceExpired {
			shown = append(shown, s)
		}
	}
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(shown)
		return exitOK
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tSTARTS\tENDS\tBY\tCOMMENT")
	for _, s := range shown {
		var ms []string
		for _, m := range s.Matchers {
			ms = append(ms, m.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, strings.Join(ms, " "),
			s.StartsAt.Local().Format(time.RFC3339), s.EndsAt.Local().Format(time.RFC3339), s.CreatedBy, s.Comment)
	}
	_ = tw.Flush()
	return exitOK
}

func runSilenceExpire(ctx context.Context, env *cmdEnv, args []string) int {
	var c silenceClient
	f := newFlagSet("silence expire", "ID...", "End silences now. Needs KAKEIBO_API_TOKEN.")
	silenceFlags(f, &c)
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	if len(f.operands) == 0 {
		fmt.Fprintln(env.stderr, "kakeibo silence expire: name the silence IDs to expire ('kakeibo silence list' shows them)")
		return exitUsage
	}
	c.token = env.getenv("KAKEIBO_API_TOKEN")
	code := exitOK
	for _, id := range f.operands {
		if err := c.do(ctx, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(id), nil, nil); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo silence expire: %v\n", err)
			code = exitFail
			continue
		}
		fmt.Fprintln(env.stdout, "expired", id)
	}
	return code
}
