#!/usr/bin/env bash
# Keeps one open issue per stack while `monitor` reports findings, and closes it when they clear. The issue is the
# open one labelled `monitor:<stack>` that github-actions[bot] opened: each run with findings edits its body to the
# latest report (no new issue, no comment storm); the first clean run comments and closes it. Uses the preinstalled
# `gh` with GH_TOKEN; needs `issues: write`.
# Usage: monitor-issue.sh <stack> <report.md> <monitor's exit code: 0 clean, 1 findings, other: the monitor failed>
set -euo pipefail
stack="$1" file="$2" code="$3"
[[ "$stack" =~ ^(dev|prod)$ ]] || { echo "monitor-issue: '$stack' is not dev or prod" >&2; exit 2; }
[[ "$code" =~ ^[0-9]+$ ]] || { echo "monitor-issue: '$code' is not an exit code" >&2; exit 2; }
repo="${GITHUB_REPOSITORY:?}"
label="monitor:$stack"
run="${GITHUB_SERVER_URL:-https://github.com}/$repo/actions/runs/${GITHUB_RUN_ID:-0}"
number="$(gh api "repos/$repo/issues?state=open&labels=$label&per_page=100" \
  --jq '[.[] | select(.pull_request == null and .user.login == "github-actions[bot]")][0].number // empty')"

if [[ "$code" == "0" ]]; then
  if [[ -n "$number" ]]; then
    gh api --method POST "repos/$repo/issues/$number/comments" -f body="Cleared: no findings on $stack ($run)." >/dev/null
    gh api --method PATCH "repos/$repo/issues/$number" -f state=closed -f state_reason=completed >/dev/null
    echo "closed #$number: no findings on $stack"
  else
    echo "no findings on $stack, no open issue"
  fi
  exit 0
fi

# GitHub refuses issue bodies over 65,536 characters.
if [[ "$code" == "1" && -s "$file" ]]; then
  report="$(head -c 60000 "$file")"
  body="$(printf '%s\n\n[Last run](%s)\n' "$report" "$run")"
else
  body="$(printf 'The monitor itself failed on %s (exit %s): see [the run](%s).\n' "$stack" "$code" "$run")"
fi
if [[ -n "$number" ]]; then
  gh api --method PATCH "repos/$repo/issues/$number" -f body="$body" >/dev/null
  echo "updated #$number: findings on $stack"
else
  # The label may not exist yet (422 when it does).
  gh api --method POST "repos/$repo/labels" -f name="$label" -f color=d93f0b \
    -f description="Open while monitor --stack $stack reports findings" >/dev/null 2>&1 || true
  gh api --method POST "repos/$repo/issues" -f title="Monitor: findings on $stack" -f body="$body" \
    -f "labels[]=$label" >/dev/null
  echo "opened an issue: findings on $stack"
fi
