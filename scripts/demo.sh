#!/usr/bin/env bash
# make demo: the whole job against the built-in emulator. No credentials,
# nothing installed: the emulator starts on a free port, the syncer plans,
# applies, and plans again to show nothing is left to do.
set -euo pipefail
bin=${1:-bin/syncer}
log=$(mktemp)
"$bin" emulator --seed testdata/seed.yaml --listen 127.0.0.1:0 --latency 5ms..15ms >"$log" 2>&1 &
pid=$!
# The demo's state (identity cache) goes next to its configs; it starts and
# ends fresh, as the emulator does.
rm -rf testdata/syncer-state testdata/directory/syncer-state
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"; rm -rf testdata/syncer-state testdata/directory/syncer-state' EXIT
for _ in $(seq 50); do
  url=$(sed -n 's/^emulator listening on //p' "$log")
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "${url:-}" ]; then echo "the emulator did not start:"; cat "$log"; exit 1; fi

if [ -t 1 ]; then step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }; else step() { printf '\n== %s\n' "$*"; }; fi
step "Emulator at $url, seeded from testdata/seed.yaml"
step "syncer validate --config testdata/config.yaml"
"$bin" validate --config testdata/config.yaml
step "syncer plan (reads only)"
"$bin" plan --config testdata/config.yaml --endpoint "$url" --log-level warn
step "syncer apply"
"$bin" apply --config testdata/config.yaml --endpoint "$url" --log-level warn
step "syncer plan --detailed-exitcode (0 = nothing left to do)"
"$bin" plan --config testdata/config.yaml --endpoint "$url" --log-level warn --detailed-exitcode
step "Membership from the Directory: spaces/PLATFORM follows an organisational unit and two groups"
"$bin" validate --config testdata/directory/config.yaml
"$bin" apply --config testdata/directory/config.yaml --endpoint "$url" --log-level warn
step "syncer plan --detailed-exitcode on the Directory space"
"$bin" plan --config testdata/directory/config.yaml --endpoint "$url" --log-level warn --detailed-exitcode
if command -v curl >/dev/null; then
  step "What the emulator counted (${url}emulator/stats)"
  curl -fsS "${url}emulator/stats" | tr -d '\n' | sed 's/.*"requests":\({[^}]*}\).*/\1/; s/,/\n/g; s/[{}]//g'
  echo
fi
echo "Done: the spaces now match testdata/members.yaml and testdata/hr.csv, and spaces/PLATFORM its Directory rules (testdata/directory/)."
