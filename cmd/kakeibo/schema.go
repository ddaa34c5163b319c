package main

import (
	"context"
	"fmt"

	"github.com/kakeibo-slo/kakeibo/slo"
)

func runSchema(_ context.Context, env *cmdEnv, args []string) int {
	var out string
	f := newFlagSet("schema", "[-o FILE]",
		"Print the JSON Schema of kakeibo specs, for editors. With yaml-language-server\n"+
			"(VS Code's YAML extension and others), start a spec with\n"+
			"  # yaml-language-server: $schema=./kakeibo.schema.json\n"+
			"and keys complete and mistakes show as you type. validate stays the authority.")
	f.stringVar(&out, "o", "", "", "write to this `file` instead of stdout")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	b, err := slo.JSONSchema()
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo schema: %v\n", err)
		return exitFail
	}
	return writeOutput(env, "schema", out, append(b, '\n'))
}
