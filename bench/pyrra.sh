#!/usr/bin/env bash
# Builds Pyrra's `pyrra generate` for bench/rulescost, which compares
# kakeibo's rules with Pyrra's for the same SLOs.
#
# Pyrra depends on github.com/polarsignals/connect-go-prometheus, which
# some module proxies do not serve: it is taken from its repository with a
# replace directive. Pyrra embeds its web UI (ui/build, built with npm);
# `generate` does not use it, so a placeholder page stands in.
#
# Usage: bench/pyrra.sh [OUT]   (default $(go env GOPATH)/bin/pyrra)
#   PYRRA_SRC, CGP_SRC: checkouts to use instead of cloning from GitHub.
set -euo pipefail
out=${1:-$(go env GOPATH)/bin/pyrra}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pyrra=${PYRRA_SRC:-}
cgp=${CGP_SRC:-}
if [[ -z "$pyrra" ]]; then
  git clone -q --depth 1 https://github.com/pyrra-dev/pyrra "$work/pyrra"
  pyrra=$work/pyrra
fi
if [[ -z "$cgp" ]]; then
  git clone -q --depth 1 https://github.com/polarsignals/connect-go-prometheus "$work/cgp"
  cgp=$work/cgp
fi
cp -r "$pyrra" "$work/build"
cd "$work/build"
go mod edit -replace "github.com/polarsignals/connect-go-prometheus=$(cd "$cgp" && pwd)"
mkdir -p ui/build
[[ -e ui/build/index.html ]] || echo '<!doctype html><title>Pyrra UI not built</title>' > ui/build/index.html
go build -o "$out" .
echo "built $out"
