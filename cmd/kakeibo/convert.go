package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kakeibo-slo/kakeibo/slo/convert"
)

func runImport(_ context.Context, env *cmdEnv, args []string) int {
	var out, window, service string
	f := newFlagSet("import", "sloth|pyrra|openslo [flags] FILE...",
		"Convert specs of another tool into kakeibo specs, printed (or written with -o).\n"+
			"What kakeibo cannot carry over is a comment in the output and a line on stderr.\n"+
			"  sloth    Sloth prometheus/v1 specs (and PrometheusServiceLevel resources);\n"+
			"           rate() queries become increase(), so the SLI counts events\n"+
			"  pyrra    Pyrra ServiceLevelObjective resources (files or manifest\n"+
			"           directories; other resources are skipped), one service per\n"+
			"           namespace unless --service\n"+
			"  openslo  OpenSLO v1 documents (kakeibo also reads them as they are)")
	f.stringVar(&out, "o", "", "", "write to this `file` instead of stdout")
	f.stringVar(&window, "window", "", "30d", "sloth: the SLO period the specs are generated with (Sloth's --default-slo-period)")
	f.stringVar(&service, "service", "", "", "pyrra: put every SLO in this `service` (default: one service per namespace)")
	if len(args) == 0 || (args[0] != "sloth" && args[0] != "openslo" && args[0] != "pyrra") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			f.usage(env.stdout)
			return exitOK
		}
		fmt.Fprintln(env.stderr, "kakeibo import: say what to import: sloth, pyrra or openslo")
		f.usage(env.stderr)
		return exitUsage
	}
	from := args[0]
	if err := f.parse(args[1:], env); err != nil {
		return exitFor(err)
	}
	files := f.args()
	if len(files) == 0 {
		fmt.Fprintln(env.stderr, "kakeibo import: give the file(s) to convert")
		return exitUsage
	}
	var data []byte
	var notes []string
	var err error
	switch from {
	case "sloth":
		period, perr := model.ParseDuration(window)
		if perr != nil || time.Duration(period) < time.Hour {
			fmt.Fprintf(env.stderr, "kakeibo import: --window %q: want a period such as 30d\n", window)
			return exitUsage
		}
		expanded, xerr := yamlFiles(files)
		if xerr != nil {
			fmt.Fprintf(env.stderr, "kakeibo import: %v\n", xerr)
			return exitUsage
		}
		for _, name := range expanded {
			in, rerr := os.ReadFile(name)
			if rerr != nil {
				fmt.Fprintf(env.stderr, "kakeibo import: %v\n", rerr)
				return exitUsage
			}
			part, n, cerr := convert.FromSloth(name, in, time.Duration(period))
			notes = append(notes, n...)
			if cerr != nil {
				err = cerr
				break
			}
			if len(data) > 0 {
				data = append(data, "---\n"...)
			}
			data = append(data, part...)
		}
	case "pyrra":
		expanded, xerr := yamlFiles(files)
		if xerr != nil {
			fmt.Fprintf(env.stderr, "kakeibo import: %v\n", xerr)
			return exitUsage
		}
		var in []convert.PyrraFile
		for _, name := range expanded {
			b, rerr := os.ReadFile(name)
			if rerr != nil {
				fmt.Fprintf(env.stderr, "kakeibo import: %v\n", rerr)
				return exitUsage
			}
			in = append(in, convert.PyrraFile{Name: name, Data: b})
		}
		data, notes, err = convert.FromPyrra(in, service)
	case "openslo":
		set, code := loadSpecs(env, "import", files...)
		if code != exitOK {
			return code
		}
		data, notes, err = convert.Native(set.Services)
	}
	return finishOutput(env, "import", out, data, notes, err)
}

// yamlFiles expands directories into the .yml and .yaml files below them,
// in name order; files are kept as given.
func yamlFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(q, ".yml") || strings.HasSuffix(q, ".yaml")) {
				found = append(found, q)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .yml or .yaml file in it", p)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

func runExport(_ context.Context, env *cmdEnv, args []string) int {
	var out, specs string
	f := newFlagSet("export", "openslo [flags]",
		"Write kakeibo specs as OpenSLO v1 documents (a Service and an SLO per\n"+
			"Prometheus-backed SLO). What OpenSLO cannot express is said on stderr.")
	f.stringVar(&specs, "specs", "KAKEIBO_SPECS", "", "spec `path` (file or directory)")
	f.stringVar(&out, "o", "", "", "write to this `file` instead of stdout")
	if len(args) == 0 || args[0] != "openslo" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			f.usage(env.stdout)
			return exitOK
		}
		fmt.Fprintln(env.stderr, "kakeibo export: say what to export to: openslo (for Sloth: kakeibo rules --format sloth)")
		return exitUsage
	}
	if err := f.parse(args[1:], env); err != nil {
		return exitFor(err)
	}
	if specs == "" {
		fmt.Fprintln(env.stderr, "kakeibo export: --specs is required (or set KAKEIBO_SPECS)")
		return exitUsage
	}
	set, code := loadSpecs(env, "export", specs)
	if code != exitOK {
		return code
	}
	data, notes, err := convert.ToOpenSLO(set.Services)
	return finishOutput(env, "export", out, data, notes, err)
}

// finishOutput ends a command that converts or generates: its notes on
// stderr, then its error (exit 1) or its output.
func finishOutput(env *cmdEnv, cmd, path string, data []byte, notes []string, err error) int {
	sayNotes(env, cmd, notes)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo %s: %v\n", cmd, err)
		return exitFail
	}
	return writeOutput(env, cmd, path, data)
}

func sayNotes(env *cmdEnv, cmd string, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(env.stderr, "kakeibo %s: %s\n", cmd, n)
	}
}

// writeOutput writes a command's output to stdout, or to a file.
func writeOutput(env *cmdEnv, cmd, path string, data []byte) int {
	if path == "" {
		if _, err := env.stdout.Write(data); err != nil {
			fmt.Fprintf(env.stderr, "kakeibo %s: write: %v\n", cmd, err)
			return exitFail
		}
		return exitOK
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(env.stderr, "kakeibo %s: %v\n", cmd, err)
		return exitFail
	}
	return exitOK
}
