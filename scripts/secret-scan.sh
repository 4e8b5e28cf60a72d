#!/usr/bin/env bash
# No plaintext secret in the repository: Yelp's detect-secrets (PyPI) scans every tracked file,
# and every finding must be in .secrets.baseline, audited as not a secret (test vectors from
# RFCs, placeholders in docs, a test's throwaway password). A new finding fails until someone
# audits it (`detect-secrets audit .secrets.baseline`) or removes it.
#
#   scripts/secret-scan.sh            # the check CI runs
#   scripts/secret-scan.sh --update   # rescan into .secrets.baseline, keeping earlier verdicts
#
# Before judging the repository, the scanner must find a planted credential, so that a scanner
# that finds nothing cannot pass.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/tools.sh
# renovate: datasource=pypi depName=detect-secrets
pip_tool detect-secrets 1.5.0 detect-secrets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The planted credential, in a repository of its own: assembled here so that this file holds none.
git -C "$work" init -q
printf 'aws_secret_access_key = "%s"\npassword = "%s"\n' "wJalrXUtnFEMI/K7MDENG/bPxRfi$(printf CY)EXAMPLEKEY" \
  "correct-$(printf horse)-battery-staple" >"$work/settings.py"
git -C "$work" add settings.py
planted=$(cd "$work" && detect-secrets scan | python3 -c 'import json, sys; print(sum(map(len, json.load(sys.stdin)["results"].values())))')
if [ "$planted" -lt 2 ]; then
  echo "detect-secrets found $planted of 2 planted credentials: the scanner is not working" >&2
  exit 1
fi
rm -rf "$work/.git" "$work/settings.py"

# The baseline's own hashes look like secrets to the scanner.
exclude='^\.secrets\.baseline$'
if [ "${1:-}" = "--update" ]; then
  detect-secrets scan --exclude-files "$exclude" --baseline .secrets.baseline
  echo "updated .secrets.baseline; audit new findings with: detect-secrets audit .secrets.baseline"
  exit 0
fi
# Scan into a copy: the baseline's filters are reused, its verdicts kept, new findings unaudited.
cp .secrets.baseline "$work/baseline"
detect-secrets scan --exclude-files "$exclude" --baseline "$work/baseline"
# Every finding must carry the verdict "not a secret"; a new one carries none.
if ! python3 - "$work/baseline" <<'PY' >&2; then
import json, sys
results = json.load(open(sys.argv[1]))["results"]
unaudited = [(path, finding) for path, findings in sorted(results.items()) for finding in findings
             if finding.get("is_secret") is not False]
for path, finding in unaudited:
    print(f"  {path}:{finding['line_number']}: {finding['type']} (not audited as harmless)")
sys.exit(1 if unaudited else 0)
PY
  echo "possible secrets found: remove them, or audit them with detect-secrets audit .secrets.baseline" >&2
  exit 1
fi
findings=$(python3 -c 'import json, sys; print(sum(map(len, json.load(open(sys.argv[1]))["results"].values())))' "$work/baseline")
echo "secret scan: $findings findings, every one audited as not a secret; the planted credentials were found"
