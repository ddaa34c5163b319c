package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kakeibo-slo/kakeibo/slo"
)

// runCorrection edits corrections into a spec file: they live in the
// specs, so they are reviewed in pull requests like any other change, and
// report, serve and the charts read them from there.
func runCorrection(_ context.Context, env *cmdEnv, args []string) int {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(env.stderr, "usage: kakeibo correction add --file SPEC.yaml --from TIME --to TIME --reason TEXT [--service NAME] [--slos a,b] [--count-as excluded|good] [--author NAME]")
		return exitUsage
	}
	var file, service, from, to, slos, countAs, reason, author string
	f := newFlagSet("correction add", "--file SPEC.yaml --from TIME --to TIME --reason TEXT [flags]",
		"Add a correction to a spec file: a time range taken out of the service's ALB SLIs\n"+
			"(planned work, a known bad source), or counted good. The file is edited in\n"+
			"place, its other lines untouched, and checked as kakeibo loads it; commit it\n"+
			"in a pull request. Times are RFC 3339.")
	f.stringVar(&file, "file", "", "", "spec `file` to edit (required)")
	f.stringVar(&service, "service", "", "", "`service` to correct, when the file holds several")
	f.stringVar(&from, "from", "", "", "start `time` (RFC 3339)")
	f.stringVar(&to, "to", "", "", "end `time`, exclusive (RFC 3339)")
	f.stringVar(&slos, "slos", "", "", "comma-separated `SLO` names (default: every SLO of the service)")
	f.stringVar(&countAs, "count-as", "", "excluded", "`how`: excluded (left out of good and total) or good (bad events counted good)")
	f.stringVar(&reason, "reason", "", "", "why (a change ticket, an incident): `text`, required")
	f.stringVar(&author, "author", "", env.getenv("USER"), "who adds it (default $USER)")
	if err := f.parse(args[1:], env); err != nil {
		return exitFor(err)
	}
	for name, v := range map[string]string{"--file": file, "--from": from, "--to": to, "--reason": reason, "--author": author} {
		if v == "" {
			fmt.Fprintf(env.stderr, "kakeibo correction add: %s is required\n", name)
			return exitUsage
		}
	}
	for name, v := range map[string]string{"--from": from, "--to": to} {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo correction add: %s %q: want RFC 3339, like 2026-10-01T14:00:00Z\n", name, v)
			return exitUsage
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo correction add: %v\n", err)
		return exitUsage
	}
	entry := correctionEntry{From: from, To: to, CountAs: countAs, Reason: reason, Author: author}
	for _, s := range strings.Split(slos, ",") {
		if s = strings.TrimSpace(s); s != "" {
			entry.SLOs = append(entry.SLOs, s)
		}
	}
	edited, err := addCorrection(data, service, entry)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo correction add: %s: %v\n", file, err)
		return exitFail
	}
	if _, err := slo.LoadBytes(file, edited); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo correction add: the file would not load; left unchanged:\n%v\n", err)
		return exitFail
	}
	if err := os.WriteFile(file, edited, 0o644); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo correction add: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(env.stdout, "%s: correction added (%s to %s, %s: %s); commit it in a pull request\n", file, from, to, countAs, reason)
	return exitOK
}

type correctionEntry struct {
	From, To, CountAs, Reason, Author string
	SLOs                              []string
}

// lines renders the entry as a block sequence item whose dash is at
// column indent (0-based).
func (c correctionEntry) lines(indent int) string {
	pad := strings.Repeat(" ", indent)
	q := func(s string) string {
		b, _ := yaml.Marshal(s)
		return strings.TrimSpace(string(b))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s- from: %s\n%s  to: %s\n", pad, q(c.From), pad, q(c.To))
	if len(c.SLOs) > 0 {
		quoted := make([]string, len(c.SLOs))
		for i, s := range c.SLOs {
			quoted[i] = q(s)
		}
		fmt.Fprintf(&b, "%s  slos: [%s]\n", pad, strings.Join(quoted, ", "))
	}
	fmt.Fprintf(&b, "%s  count_as: %s\n%s  reason: %s\n%s  author: %s\n", pad, q(c.CountAs), pad, q(c.Reason), pad, q(c.Author))
	return b.String()
}

// addCorrection inserts the entry into the service's corrections (first
// in the list), or a corrections list before its slos, as text: every
// other line of the file stays as it was.
func addCorrection(data []byte, service string, c correctionEntry) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var target *yaml.Node
	var services []string
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0]
		name := ""
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "service" {
				name = m.Content[i+1].Value
			}
		}
		services = append(services, name)
		if service == "" || name == service {
			if target != nil {
				return nil, fmt.Errorf("it holds several services (%s): say which with --service", strings.Join(services, ", "))
			}
			target = m
		}
	}
	if target == nil {
		return nil, fmt.Errorf("no service %q in it (it has: %s)", service, strings.Join(services, ", "))
	}
	lines := strings.SplitAfter(string(data), "\n")
	insert := func(line int, text string) []byte { // before 1-based line
		out := append([]string{}, lines[:line-1]...)
		out = append(out, text)
		return []byte(strings.Join(append(out, lines[line-1:]...), ""))
	}
	var slosKey *yaml.Node
	for i := 0; i+1 < len(target.Content); i += 2 {
		k, v := target.Content[i], target.Content[i+1]
		switch k.Value {
		case "corrections":
			if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
				return nil, errors.New("its corrections are not a block list: edit it by hand")
			}
			first := v.Content[0]
			return insert(first.Line, c.lines(first.Column-3)), nil
		case "slos":
			slosKey = k
		}
	}
	if slosKey == nil {
		return nil, errors.New("no slos in the service")
	}
	pad := strings.Repeat(" ", slosKey.Column-1)
	return insert(slosKey.Line, pad+"corrections:\n"+c.lines(slosKey.Column-1+2)), nil
}
