#!/bin/sh
# The README's quick start: a local key, three signed events, an offline verification, then the
# same log with one event tampered with. Runs in a fresh temporary directory; touches nothing else.
set -eu
cli="node -- $(cd "$(dirname "$0")/.." && pwd)/dist/bin/agentkeys.js"
work=$(mktemp -d "${TMPDIR:-/tmp}/agentkeys-demo.XXXXXX")
cd "$work"
# Bold command lines on a terminal only: piped or with NO_COLOR, the transcript is plain text.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then b=$(printf '\033[1m'); r=$(printf '\033[0m'); else b=''; r=''; fi
# Each word as a shell would need it typed: a payload with quotes or braces is shown quoted.
quote() {
  case $1 in
    *[!A-Za-z0-9_./:=@%+-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
  esac
}
run() {
  line=''
  for word in "$@"; do line="$line $(quote "$word")"; done
  printf '\n%s$ agentkeys%s%s\n' "$b" "$line" "$r"
  $cli "$@"
}

run keys create --local --alg ed25519 --kid audit-1
run sign --log audit.jsonl --key local:audit-1 --event-type agent_spawned --actor agent-manager --payload '{"action":"spawn","agent":"a-7"}'
printf '%s\n' '{"event_type":"tool_call","actor_id":"a-7","payload":{"tool":"s3.get","bytes":1e21}}' \
              '{"event_type":"agent_stopped","actor_id":"agent-manager","payload":{"reason":"idle"}}' > batch.jsonl
printf '\n%s$ agentkeys sign --log audit.jsonl --key local:audit-1 --batch < batch.jsonl%s\n' "$b" "$r"
$cli sign --log audit.jsonl --key local:audit-1 --batch < batch.jsonl
run verify-audit --log audit.jsonl

printf '\n# now change one payload by hand, as an attacker with write access would:\n'
sed -i '2s/s3.get/s3.put/' audit.jsonl
set +e
run verify-audit --log audit.jsonl
printf '\n(exit code %s: 3 means the chain did not verify)\n' "$?"
printf 'demo files are in %s\n' "$work"
