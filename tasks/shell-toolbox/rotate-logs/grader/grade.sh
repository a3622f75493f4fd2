#!/usr/bin/env bash
# Hidden grader for rotate-logs, run in the sandbox as `bash /grader/grade.sh`.
#
# Every check builds its own fixture directory under /tmp, runs the candidate's
# /workspace/rotate.sh on it (with a timeout, as a separate bash process) and
# inspects the files left behind. It writes /grader/results.json (tasktrial's
# script-results format) last, after stopping anything the submission left
# running; the candidate's output is evidence, never the verdict.
set -uo pipefail
export LC_ALL=C

RESULTS=/grader/results.json
SCRIPT=/workspace/rotate.sh
WORK=/tmp/grade
mkdir -p "$WORK"
FIXTURES=0
RESULT_LINES=() # one JSON object per check, kept in memory, out of the submission's reach

OUT="" ERR="" STATUS=0 FIXTURE="" PROBLEMS=""

# -- helpers ------------------------------------------------------------------

rotate() { # ARGS...: run the candidate from /workspace; sets OUT, ERR, STATUS
  OUT=$(cd /workspace && timeout -s KILL 5 bash "$SCRIPT" "$@" 2>"$WORK/stderr" </dev/null)
  STATUS=$?
  ERR=$(head -c 500 "$WORK/stderr")
}

rotate_in() { # DIR_TO_CD_INTO ARGS...: same, from another working directory
  local where=$1
  shift
  OUT=$(cd "$where" && timeout -s KILL 5 bash "$SCRIPT" "$@" 2>"$WORK/stderr" </dev/null)
  STATUS=$?
  ERR=$(head -c 500 "$WORK/stderr")
}

problem() { PROBLEMS+="$1"$'\n'; }
rel() { printf '%s' "${1#"$FIXTURE"/}"; }
put() { printf '%s' "$2" > "$FIXTURE/$1"; } # NAME CONTENT

expect_file() { # NAME CONTENT
  local path=$FIXTURE/$1 got
  if [[ -L $path || ! -f $path ]]; then
    problem "$1 should be a regular file containing '$2', but it is missing or not a regular file"
    return
  fi
  got=$(cat -- "$path"; printf x)
  got=${got%x}
  [[ $got == "$2" ]] || problem "$1 should contain '$2' but contains '${got:0:60}'"
}

expect_absent() { # NAME
  [[ -e $FIXTURE/$1 || -L $FIXTURE/$1 ]] && problem "$1 should not exist after the rotation"
}

expect_status() { # CODE
  [[ $STATUS -eq $1 ]] || problem "exit status should be $1, was $STATUS${ERR:+ (stderr: ${ERR:0:200})}"
}

expect_stdout() { # EXPECTED
  [[ $OUT == "$1" ]] || problem "standard output should be '${1//$'\n'/\\n}' but was '${OUT:0:200}'"
}

expect_mode() { # NAME MODE
  local got
  got=$(stat -c %a -- "$FIXTURE/$1" 2>/dev/null) || { problem "$1 is missing"; return; }
  [[ $got == "$2" ]] || problem "$1 should have mode $2 (like the log it replaces) but has $got"
}

expect_only() { # NAMES...: exactly these entries exist in the fixture (top level)
  local want got
  want=$(printf '%s\n' "$@" | sort)
  got=$(cd "$FIXTURE" && find . -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
  [[ $want == "$got" ]] || problem "the directory should hold exactly [${want//$'\n'/ }] but holds [${got//$'\n'/ }]"
}

# -- checks -------------------------------------------------------------------

check_example() {
  put app.log new; put app.log.1 older; put app.log.2 oldest
  rotate "$FIXTURE" 2
  expect_status 0
  expect_stdout "rotated app.log"
  expect_file app.log ""
  expect_file app.log.1 new
  expect_file app.log.2 older
  expect_only app.log app.log.1 app.log.2
}

check_rotates_a_single_log() {
  printf 'line 1\nline 2\n' > "$FIXTURE/app.log"
  rotate "$FIXTURE" 3
  expect_status 0
  expect_stdout "rotated app.log"
  expect_file app.log ""
  expect_file app.log.1 $'line 1\nline 2\n'
  expect_only app.log app.log.1
}

check_shifts_older_copies() {
  put api.log current; put api.log.1 one; put api.log.2 two; put api.log.3 three
  rotate "$FIXTURE" 5
  expect_status 0
  expect_file api.log ""
  expect_file api.log.1 current
  expect_file api.log.2 one
  expect_file api.log.3 two
  expect_file api.log.4 three
  expect_absent api.log.5
}

check_drops_copies_beyond_keep() {
  put db.log current; put db.log.1 one; put db.log.2 two; put db.log.3 three
  put db.log.5 five; put db.log.12 twelve; put db.log.old keep-me; put db.log.03 keep-me-too
  rotate "$FIXTURE" 3
  expect_status 0
  expect_file db.log.1 current
  expect_file db.log.2 one
  expect_file db.log.3 two
  expect_absent db.log.4
  expect_absent db.log.5
  expect_absent db.log.12
  expect_file db.log.old keep-me
  expect_file db.log.03 keep-me-too
}

check_keep_one() {
  put solo.log fresh; put solo.log.1 stale; put solo.log.2 staler
  rotate "$FIXTURE" 1
  expect_status 0
  expect_file solo.log ""
  expect_file solo.log.1 fresh
  expect_only solo.log solo.log.1
}

check_skips_empty_logs() {
  : > "$FIXTURE/empty.log"
  put empty.log.1 previous
  put busy.log data
  rotate "$FIXTURE" 3
  expect_status 0
  expect_stdout "rotated busy.log"
  expect_file empty.log ""
  expect_file empty.log.1 previous
  expect_absent empty.log.2
}

check_ignores_other_files() {
  put app.log data; put notes.txt notes; put app.logx x; put app.log.old old; put LOG.LOG upper
  mkdir "$FIXTURE/sub" "$FIXTURE/folder.log"
  printf inner > "$FIXTURE/sub/inner.log"
  rotate "$FIXTURE" 3
  expect_status 0
  expect_stdout "rotated app.log"
  expect_file notes.txt notes
  expect_file app.logx x
  expect_file app.log.old old
  expect_file LOG.LOG upper
  expect_file sub/inner.log inner
  [[ -e $FIXTURE/sub/inner.log.1 ]] && problem "sub/inner.log was rotated: only files directly in DIR count"
  [[ -d $FIXTURE/folder.log ]] || problem "the directory folder.log was touched"
  expect_absent folder.log.1
}

check_never_follows_symlinks() {
  local outside=$WORK/outside
  mkdir "$outside"
  printf secret > "$outside/target.txt"
  ln -s "$outside/target.txt" "$FIXTURE/link.log"
  put real.log data
  rotate "$FIXTURE" 3
  expect_status 0
  expect_stdout "rotated real.log"
  [[ -L $FIXTURE/link.log && $(readlink "$FIXTURE/link.log") == "$outside/target.txt" ]] \
    || problem "link.log (a symlink) was renamed, replaced or removed; symlinks must be left alone"
  [[ -f $outside/target.txt && $(cat "$outside/target.txt") == secret ]] \
    || problem "the file a symlink points to (outside DIR) was changed"
  expect_absent link.log.1
  [[ -e $outside/target.txt.1 ]] && problem "a file outside DIR was rotated through a symlink"
}

check_awkward_names() {
  put "my app.log" spaces; put "-v.log" dash; put "star*.log" star; put "star1.log" one; put "[x].log" brackets
  put "ünï.log" unicode; put "my app.log.1" "older spaces"
  rotate "$FIXTURE" 2
  expect_status 0
  expect_stdout $'rotated -v.log\nrotated [x].log\nrotated my app.log\nrotated star*.log\nrotated star1.log\nrotated ünï.log'
  expect_file "my app.log.1" spaces
  expect_file "my app.log.2" "older spaces"
  expect_file "-v.log.1" dash
  expect_file "star*.log.1" star
  expect_file "star1.log.1" one
  expect_file "[x].log.1" brackets
  expect_file "ünï.log.1" unicode
}

check_relative_dir_with_spaces() {
  mkdir "$FIXTURE/my logs"
  printf web > "$FIXTURE/my logs/web.log"
  rotate_in "$FIXTURE" "my logs" 2
  expect_status 0
  expect_stdout "rotated web.log"
  expect_file "my logs/web.log" ""
  expect_file "my logs/web.log.1" web
}

check_preserves_permissions() {
  put private.log p; put shared.log s
  chmod 600 "$FIXTURE/private.log"
  chmod 664 "$FIXTURE/shared.log"
  rotate "$FIXTURE" 3
  expect_status 0
  expect_mode private.log 600
  expect_mode private.log.1 600
  expect_mode shared.log 664
  expect_mode shared.log.1 664
}

check_prints_rotated_in_name_order() {
  put b.log b; put a.log a; put C.log c; put a.log.1 a1; : > "$FIXTURE/z.log"
  rotate "$FIXTURE" 4
  expect_status 0
  expect_stdout $'rotated C.log\nrotated a.log\nrotated b.log'
}

check_second_run() {
  put app.log first
  rotate "$FIXTURE" 3
  rotate "$FIXTURE" 3
  expect_status 0
  expect_stdout ""
  expect_file app.log ""
  expect_file app.log.1 first
  expect_absent app.log.2
  put app.log second
  rotate "$FIXTURE" 3
  expect_file app.log.1 second
  expect_file app.log.2 first
}

check_usage_errors() {
  put app.log data
  local args
  for args in "" "$FIXTURE" "$FIXTURE 0" "$FIXTURE 100" "$FIXTURE abc" "$FIXTURE -1" "$FIXTURE 2 extra" "$FIXTURE/missing 2"; do
    # shellcheck disable=SC2086
    rotate $args
    if [[ $STATUS -ne 2 ]]; then
      problem "rotate.sh ${args//$FIXTURE/DIR} should exit with status 2, exited $STATUS"
    elif [[ -z $ERR ]]; then
      problem "rotate.sh ${args//$FIXTURE/DIR} should explain the error on standard error"
    fi
  done
  expect_file app.log data
  expect_absent app.log.1
}

# -- driver -------------------------------------------------------------------

# Stop whatever the submission left running, then (re)create the results file.
write_results() {
  kill -9 -1 2>/dev/null # every process of the sandbox user but this shell (and init)
  chmod 700 "${RESULTS%/*}"
  rm -rf -- "$RESULTS"
  printf '%s\n' "${RESULT_LINES[@]}" | jq -s '{tests: .}' > "$RESULTS"
}

main() {
  CHECKS=(
    example rotates-a-single-log shifts-older-copies drops-copies-beyond-keep keep-one
    skips-empty-logs ignores-other-files never-follows-symlinks awkward-names
    relative-dir-with-spaces preserves-permissions prints-rotated-in-name-order second-run usage-errors
  )

  for name in "${CHECKS[@]}"; do
    PROBLEMS=""
    FIXTURES=$((FIXTURES + 1))
    FIXTURE=$WORK/fixture-$FIXTURES
    mkdir "$FIXTURE"
    if [[ ! -f $SCRIPT ]]; then
      problem "rotate.sh is missing from the submission"
    else
      "check_${name//-/_}"
    fi
    RESULT_LINES+=("$(jq -cn --arg name "$name" --arg problems "${PROBLEMS%$'\n'}" \
      '{name: $name, max_score: 1, score: (if $problems == "" then 1 else 0 end),
        status: (if $problems == "" then "passed" else "failed" end), output: $problems}')")
  done

  write_results
}

# One line: bash has parsed every function above before the submission runs,
# so rewriting this file from the submission changes nothing.
main "$@"; exit $?
