package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet where every flag can also come from an
// environment variable; a flag on the command line wins over the variable.
type flagSet struct {
	fs       *flag.FlagSet
	synopsis string
	about    string
	envOf    map[string]string // flag name → environment variable
	operands []string          // the arguments that are not flags
}

// args are the arguments that are not flags, wherever they stood: flags may
// follow them (kakeibo import sloth a.yml -o out.yaml), until a "--".
func (f *flagSet) args() []string { return f.operands }

func newFlagSet(name, synopsis, about string) *flagSet {
	f := &flagSet{fs: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis, about: about, envOf: map[string]string{}}
	f.fs.SetOutput(io.Discard)
	return f
}

func (f *flagSet) stringVar(p *string, name, env, def, help string) {
	f.fs.StringVar(p, name, def, help)
	f.envOf[name] = env
}

func (f *flagSet) boolVar(p *bool, name, env string, def bool, help string) {
	f.fs.BoolVar(p, name, def, help)
	f.envOf[name] = env
}

// parse reads the command line, then the environment for flags not given.
// It prints usage on --help (returning flag.ErrHelp) and on errors.
func (f *flagSet) parse(args []string, env *cmdEnv) error {
	cur := args
	err := f.fs.Parse(cur)
	for err == nil && f.fs.NArg() > 0 {
		rest := f.fs.Args()
		if used := len(cur) - len(rest); used > 0 && cur[used-1] == "--" {
			f.operands = append(f.operands, rest...) // after "--", all are operands
			break
		}
		f.operands = append(f.operands, rest[0])
		cur = rest[1:]
		err = f.fs.Parse(cur)
	}
	if errors.Is(err, flag.ErrHelp) {
		f.usage(env.stdout)
		return err
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo %s: %v\n\n", f.fs.Name(), err)
		f.usage(env.stderr)
		return errUsage
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for name, v := range f.envOf {
		if given[name] || v == "" {
			continue
		}
		if val := env.getenv(v); val != "" {
			if err := f.fs.Set(name, val); err != nil {
				fmt.Fprintf(env.stderr, "kakeibo %s: %s=%q: %v\n", f.fs.Name(), v, val, err)
				return errUsage
			}
		}
	}
	return nil
}

func (f *flagSet) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: kakeibo %s %s\n\n%s\n\nFlags:\n", f.fs.Name(), f.synopsis, f.about)
	f.fs.VisitAll(func(fl *flag.Flag) {
		name, help := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n        %s", line, help)
		var extra []string
		if v := f.envOf[fl.Name]; v != "" {
			extra = append(extra, "env "+v)
		}
		if fl.DefValue != "" && fl.DefValue != "false" {
			extra = append(extra, "default "+fl.DefValue)
		}
		if len(extra) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(extra, ", "))
		}
		fmt.Fprintln(w)
	})
}

// exitFor maps a parse error to an exit code.
func exitFor(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func (f *flagSet) durationVar(p *time.Duration, name, env string, def time.Duration, help string) {
	f.fs.DurationVar(p, name, def, help)
	f.envOf[name] = env
}

func (f *flagSet) intVar(p *int, name, env string, def int, help string) {
	f.fs.IntVar(p, name, def, help)
	f.envOf[name] = env
}

func (f *flagSet) float64Var(p *float64, name, env string, def float64, help string) {
	f.fs.Float64Var(p, name, def, help)
	f.envOf[name] = env
}
