package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kakeibo-slo/kakeibo/slo"
)

const gateAbout = "Say whether an action (deploy) of a service may go ahead under its error budget\n" +
	"policy (policy: in its spec): exit 0 when it may, 1 with the reasons while it is\n" +
	"frozen, 2 when it cannot be decided. It asks a running kakeibo at --url (env\n" +
	"KAKEIBO_URL), or, with --specs, reads the logs and Prometheus itself like report.\n" +
	"  kakeibo gate override SERVICE --for 4h --reason TEXT   lets frozen deploys through\n" +
	"  (recorded with who and why, shown on the status page; needs KAKEIBO_API_TOKEN)."

// runGate answers a deploy pipeline's question.
func runGate(ctx context.Context, env *cmdEnv, args []string) int {
	if len(args) > 0 && args[0] == "override" {
		return runGateOverride(ctx, env, args[1:])
	}
	var f evalFlags
	var action, base, format string
	var timeout time.Duration
	fs := newFlagSet("gate", "SERVICE [--action deploy] [--url URL | --specs DIR ...]", gateAbout)
	fs.stringVar(&action, "action", "", "deploy", "the `action` to ask about (the policy's applies_to)")
	fs.stringVar(&base, "url", "KAKEIBO_URL", "http://127.0.0.1:8080", "base `URL` of a running kakeibo (unless --specs is given)")
	fs.durationVar(&timeout, "timeout", "", 30*time.Second, "give up asking after this `duration`")
	fs.stringVar(&format, "format", "", "text", "output `format`: text or json")
	f.register(fs)
	if err := fs.parse(args, env); err != nil {
		return exitFor(err)
	}
	if len(fs.operands) != 1 {
		fmt.Fprintln(env.stderr, "kakeibo gate: name one service")
		return exitUsage
	}
	service := fs.operands[0]
	var d slo.GateDecision
	if f.specs != "" {
		ev, code := f.evaluate(ctx, env, "gate")
		if code != exitOK {
			return code
		}
		var svc *slo.Service
		for _, s := range ev.set.Services {
			if s.Name == service {
				svc = s
			}
		}
		if svc == nil {
			fmt.Fprintf(env.stderr, "kakeibo gate: no service %q in %s\n", service, f.specs)
			return exitUsage
		}
		d = slo.Gate(svc, ev.report().SLOs, action, nil, time.Now())
	} else {
		c := silenceClient{base: base, timeout: timeout}
		if err := c.do(ctx, http.MethodGet, "/api/v1/gate/"+url.PathEscape(service)+"?action="+url.QueryEscape(action), nil, &d); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo gate: cannot decide: %v\n", err)
			return exitUsage
		}
	}
	if format == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d)
	} else {
		writeGate(env, d)
	}
	if !d.Open {
		return exitFail
	}
	return exitOK
}

func writeGate(env *cmdEnv, d slo.GateDecision) {
	switch {
	case d.Override != nil:
		fmt.Fprintf(env.stdout, "%s: %s may go ahead: the policy is overridden until %s by %s (%s)\n",
			d.Service, d.Action, d.Override.Until.UTC().Format(time.RFC3339), d.Override.CreatedBy, d.Override.Reason)
	case d.Open:
		fmt.Fprintf(env.stdout, "%s: %s may go ahead\n", d.Service, d.Action)
	default:
		fmt.Fprintf(env.stdout, "%s: %s is frozen by the error budget policy\n", d.Service, d.Action)
	}
	for _, r := range d.Frozen {
		fmt.Fprintf(env.stdout, "  frozen: %s\n", r)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(env.stdout, "  note: %s\n", n)
	}
}

func runGateOverride(ctx context.Context, env *cmdEnv, args []string) int {
	var c silenceClient
	var reason, author, action string
	var dur time.Duration
	fs := newFlagSet("gate override", "SERVICE --for DURATION --reason TEXT", "Let frozen actions of a service go ahead for a while, with who and why recorded.")
	silenceFlags(fs, &c)
	fs.stringVar(&reason, "reason", "", "", "why (the fix being deployed, the incident): required")
	fs.stringVar(&author, "author", "USER", "", "who decides (default $USER)")
	fs.stringVar(&action, "action", "", "deploy", "the `action` let through")
	fs.durationVar(&dur, "for", "", 0, "how long the override lasts (required, e.g. 4h)")
	if err := fs.parse(args, env); err != nil {
		return exitFor(err)
	}
	if len(fs.operands) != 1 || dur <= 0 || strings.TrimSpace(reason) == "" {
		fmt.Fprintln(env.stderr, "kakeibo gate override: name one service, and give --for and --reason")
		return exitUsage
	}
	c.token = env.getenv("KAKEIBO_API_TOKEN")
	body := map[string]string{"action": action, "created_by": author, "reason": reason, "for": dur.String()}
	var o slo.GateOverride
	if err := c.do(ctx, http.MethodPost, "/api/v1/gate/"+url.PathEscape(fs.operands[0])+"/override", body, &o); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo gate override: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(env.stdout, "%s: %s overridden until %s\n", o.Service, o.Action, o.Until.UTC().Format(time.RFC3339))
	return exitOK
}
