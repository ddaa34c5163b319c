package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealthcheck asks a running kakeibo whether it is ready, for container
// health checks in images without curl (distroless): exit 0 when
// --url answers 200 within --timeout, else 1.
func runHealthcheck(ctx context.Context, env *cmdEnv, args []string) int {
	var url string
	var timeout time.Duration
	f := newFlagSet("healthcheck", "[--url URL]",
		"Exit 0 when the service answers 200 at --url (default its /readyz on\n"+
			"localhost:8080), 1 otherwise: a container health check without curl.")
	f.stringVar(&url, "url", "KAKEIBO_HEALTHCHECK_URL", "http://127.0.0.1:8080/readyz", "`URL` to ask")
	f.durationVar(&timeout, "timeout", "KAKEIBO_HEALTHCHECK_TIMEOUT", 3*time.Second, "give up after this `duration`")
	if err := f.parse(args, env); err != nil {
		return exitFor(err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo healthcheck: %v\n", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(env.stderr, "kakeibo healthcheck: %v\n", err)
		return exitFail
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(env.stderr, "kakeibo healthcheck: %s: %s", resp.Status, body)
		return exitFail
	}
	return exitOK
}
