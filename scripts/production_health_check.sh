#!/usr/bin/env bash
# production_health_check.sh — a thin cron wrapper around `obs-tests health` (read-only: queries only).
#
#   */5 * * * *  OBS_PROMETHEUS_URL=http://prometheus:9090 OBS_HEALTH_QUIET=1 /opt/obs-tests/scripts/production_health_check.sh
#
# Configure it with the OBS_* variables of `obs-tests health` (OBS_PROMETHEUS_URL, OBS_ALERTMANAGER_URL,
# OBS_GRAFANA_URL, OBS_GRAFANA_TOKEN_FILE, OBS_CONTRACT, OBS_WARN_ONLY, ...) or with arguments, which are passed
# through. The wrapper adds:
#   OBS_HEALTH_ENV       a file of VAR=value lines read first (default /etc/default/obs-tests-health, if it exists)
#   OBS_TESTS            the obs-tests executable (default: this checkout's .venv/bin/obs-tests, else PATH)
#   OBS_HEALTH_DIR       keep the last JSON document as health.json and one summary line per run in health.log
#   OBS_HEALTH_DEADLINE  seconds before the whole check is abandoned as UNKNOWN (default 120); the per-request
#                        timeout (OBS_TIMEOUT, default 10 s) is lowered to a third of it when it would not fit,
#                        so that a server that hangs is reported (CRITICAL) before the deadline
#   OBS_HEALTH_LOCK      lock file so that runs never overlap (default ${TMPDIR:-/tmp}/obs-tests-health.lock)
#   OBS_HEALTH_QUIET=1   print nothing when the result is OK (cron mails only problems)
#
# Exit code and first output line are those of `obs-tests health` (Nagios): 0 OK, 1 WARNING, 2 CRITICAL,
# 3 UNKNOWN — also 3, with a HEALTH UNKNOWN line, when obs-tests is missing, a run overlaps or the deadline passes.
set -uo pipefail

unknown() {
  echo "HEALTH UNKNOWN: $*"
  exit 3
}

env_file=${OBS_HEALTH_ENV:-/etc/default/obs-tests-health}
if [[ -n ${OBS_HEALTH_ENV:-} && ! -r $env_file ]]; then
  unknown "OBS_HEALTH_ENV=$env_file is not readable"
fi
if [[ -r $env_file ]]; then
  set -a
  # shellcheck disable=SC1090
  source "$env_file" || unknown "cannot read $env_file"
  set +a
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
obs_tests=${OBS_TESTS:-}
if [[ -z $obs_tests ]]; then
  if [[ -x $here/../.venv/bin/obs-tests ]]; then
    obs_tests=$here/../.venv/bin/obs-tests
  else
    obs_tests=$(command -v obs-tests || true)
  fi
fi
[[ -n $obs_tests && -x $obs_tests ]] || unknown "obs-tests not found (set OBS_TESTS, or run 'make venv' in the checkout)"

deadline=${OBS_HEALTH_DEADLINE:-120}
[[ $deadline =~ ^[1-9][0-9]*$ ]] || unknown "OBS_HEALTH_DEADLINE=$deadline is not a number of seconds"

# Requests run in up to three rounds (buildinfo, then the rest; Alertmanager and Grafana beside them):
# each round must fit in the deadline, or a hanging server ends as "did not finish" instead of CRITICAL.
fit=$((deadline / 3 > 0 ? deadline / 3 : 1))
if awk -v t="${OBS_TIMEOUT:-10}" -v f="$fit" 'BEGIN { exit !(t + 0 > f + 0) }'; then
  export OBS_TIMEOUT=$fit
fi

args=("$@")
if [[ -n ${OBS_HEALTH_DIR:-} ]]; then
  mkdir -p "$OBS_HEALTH_DIR" || unknown "cannot create OBS_HEALTH_DIR=$OBS_HEALTH_DIR"
  args+=(--json-file "$OBS_HEALTH_DIR/health.json")
fi

lock=${OBS_HEALTH_LOCK:-${TMPDIR:-/tmp}/obs-tests-health.lock}
exec 9>>"$lock" || unknown "cannot open the lock file $lock (set OBS_HEALTH_LOCK)"
flock -n 9 || unknown "the previous check still runs (lock $lock held)"

output=$(timeout --kill-after=5 "$deadline" "$obs_tests" health "${args[@]}" 2>&1)
code=$?
if [[ $code -eq 124 || $code -eq 137 ]]; then
  output="HEALTH UNKNOWN: the check did not finish within ${deadline}s (OBS_HEALTH_DEADLINE) — is a server hanging?"
  code=3
elif [[ $code -gt 3 ]]; then
  output="HEALTH UNKNOWN: obs-tests health exited with status $code: ${output//$'\n'/ }"
  code=3
fi

if [[ -n ${OBS_HEALTH_DIR:-} ]]; then
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${output%%$'\n'*}" >>"$OBS_HEALTH_DIR/health.log"
fi
if [[ $code -ne 0 || ${OBS_HEALTH_QUIET:-0} != 1 ]]; then
  printf '%s\n' "$output"
fi
exit "$code"
