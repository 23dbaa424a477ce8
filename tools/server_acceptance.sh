#!/usr/bin/env bash
# The acceptance run of `vcval serve` (docs/server.md): synthetic mini data, a server in the background,
# two teams, a bm25+window upload read back from the board's JSON, and a malformed file refused with line
# numbers and no scored quota spent. Transcript: benchmarks/results/server_acceptance.txt (tokens redacted).
#     bash tools/server_acceptance.sh [WORK_DIR]
set -x
WORK=${1:-/tmp/h21}
V=${VCVAL_BIN:-$(dirname "$(command -v vcval)")}
[ -d "$WORK-data" ] || $V/vcval data synth --out "$WORK-data" --size mini --seed 0
[ -f "$WORK-run/predictions.jsonl" ] || $V/vcval run bm25+window --data-dir "$WORK-data" --split test --out "$WORK-run" --no-track > /dev/null
rm -rf "$WORK-acc" && mkdir -p "$WORK-acc"
COMMON="--data-dir $WORK-data --db sqlite:///$WORK-acc/server.db --store $WORK-acc/submissions"
$V/vcval serve $COMMON --port 8765 > "$WORK-acc/serve.log" 2>&1 &
SERVER=$!
{ set +x; } 2>/dev/null
for i in $(seq 1 180); do curl -sf http://127.0.0.1:8765/api/health > /dev/null && break; sleep 1; done
set -x
curl -s http://127.0.0.1:8765/api/health; echo
A=$($V/vcval serve admin add-team "team-a" $COMMON)
B=$($V/vcval serve admin add-team "team-b" $COMMON)
$V/vcval upload "$WORK-run/predictions.jsonl" --server http://127.0.0.1:8765 --token "$A" --name "bm25+window"; echo "exit $?"
curl -s -X PUT -H "Authorization: Bearer $A" http://127.0.0.1:8765/api/teams/me/public/1 | python3 -c "import json,sys; print('public:', json.load(sys.stdin)['public'])"
curl -s http://127.0.0.1:8765/api/board | python3 -c "
import json,sys; b=json.load(sys.stdin)
print('board phase', b['phase'], 'questions', b['questions'], 'scorer', b['scorer_versions'])
for e in b['entries']: print(e['rank'], e['team'], e['method'], {k: round(e['metrics'][k],2) for k in ('video_R1','R1_IoU0.5','R1_mIoU')}, 'CI R1_IoU0.5', [round(x,2) for x in e['ci']['R1_IoU0.5']])"
printf '{"qid": "nope", "candidates": []}\nthis is not json\n' > "$WORK-acc/malformed.jsonl"
$V/vcval upload "$WORK-acc/malformed.jsonl" --server http://127.0.0.1:8765 --token "$B" --name "broken"; echo "exit $?"
curl -s -H "Authorization: Bearer $B" http://127.0.0.1:8765/api/teams/me | python3 -c "import json,sys; print('team-b quota:', json.load(sys.stdin)['quota'])"
$V/vcval score "$WORK-run/predictions.jsonl" --data-dir "$WORK-data" --split test --corpus split | sed -n 1,10p
$V/vcval leaderboard --store "$WORK-acc/submissions" --out "$WORK-acc/lb" | tail -3
$V/vcval serve admin verify-log $COMMON; echo "exit $?"
kill $SERVER; wait $SERVER
tail -3 "$WORK-acc/serve.log"
