#!/usr/bin/env bash
# Creates or edits this workflow's one comment on a pull request: the comment whose body starts with the marker
# (an HTML comment, invisible on GitHub) and that github-actions[bot] wrote. Every push edits it instead of adding
# another. Uses the preinstalled `gh` with GH_TOKEN; needs `pull-requests: write`.
# Usage: pr-comment.sh <pr-number> <marker> <markdown-file>
set -euo pipefail
pr="$1" marker="$2" file="$3"
[[ "$pr" =~ ^[0-9]+$ ]] || { echo "pr-comment: '$pr' is not a pull request number" >&2; exit 2; }
[[ -f "$file" ]] || { echo "pr-comment: no file $file" >&2; exit 2; }
repo="${GITHUB_REPOSITORY:?}"
# GitHub refuses comment bodies over 65,536 characters.
body="$(printf '%s\n' "$marker"; head -c 60000 "$file")"
id="$(gh api --paginate "repos/$repo/issues/$pr/comments" \
  --jq ".[] | select(.user.login == \"github-actions[bot]\" and (.body | startswith(\"$marker\"))) | .id" | head -n 1)"
if [[ -n "$id" ]]; then
  gh api --method PATCH "repos/$repo/issues/comments/$id" -f body="$body" >/dev/null
  echo "edited comment $id on #$pr"
else
  gh api --method POST "repos/$repo/issues/$pr/comments" -f body="$body" >/dev/null
  echo "commented on #$pr"
fi
