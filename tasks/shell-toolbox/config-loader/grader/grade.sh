#!/usr/bin/env bash
# Hidden grader for config-loader, run in the sandbox as `bash /grader/grade.sh`.
#
# Every check writes a fixture file under /tmp and runs the candidate's
# config.sh in a fresh `bash --noprofile --norc` with a clean environment and
# a timeout; the loaded CONFIG is printed there and compared here. The
# pure-bash check runs with an empty PATH, so only builtins work. Writes
# /grader/results.json (tasktrial's script-results format) last, after
# stopping anything the submission left running.
set -uo pipefail
export LC_ALL=C.UTF-8

RESULTS=/grader/results.json
LIBRARY=/workspace/config.sh
WORK=/tmp/grade
mkdir -p "$WORK"
FIXTURES=0
RESULT_LINES=() # one JSON object per check, kept in memory, out of the submission's reach
STD_PATH=/usr/local/bin:/usr/bin:/bin
NO_PATH=$WORK/empty-path
mkdir -p "$NO_PATH"

PROBLEMS="" STATUS="" ERR="" FIXTURE=""
declare -A GOT=()

problem() { PROBLEMS+="$1"$'\n'; }

fixture() { # CONTENT: written as is to a new file, named FIXTURE
  FIXTURES=$((FIXTURES + 1))
  FIXTURE=$WORK/fixture-$FIXTURES.conf
  printf '%s' "$1" > "$FIXTURE"
}

# run_in_bash PATH SCRIPT ARGS...: run SCRIPT with config.sh sourced, clean env, timeout.
run_in_bash() {
  local path=$1 script=$2
  shift 2
  /usr/bin/env -i PATH="$path" HOME=/tmp LC_ALL=C.UTF-8 \
    /usr/bin/timeout -s KILL 5 /bin/bash --noprofile --norc -c "source $LIBRARY || exit 97
$script" check "$@" 2>"$WORK/stderr"
}

# load FILE [PATH]: run load_config FILE; fills STATUS, GOT (the CONFIG it built) and ERR.
load() {
  local file=$1 path=${2:-$STD_PATH} output line
  output=$(run_in_bash "$path" '
load_config "$1"
printf "status=%s\n" "$?"
for key in "${!CONFIG[@]}"; do printf "%s\t%s\n" "$key" "${CONFIG[$key]}"; done' "$file")
  ERR=$(head -c 800 "$WORK/stderr")
  GOT=()
  STATUS=""
  while IFS= read -r line; do
    if [[ -z $STATUS && $line == status=* ]]; then
      STATUS=${line#status=}
    elif [[ $line == *$'\t'* ]]; then
      GOT[${line%%$'\t'*}]=${line#*$'\t'}
    fi
  done <<< "$output"
  [[ -n $STATUS ]] || problem "load_config did not return (the shell stopped: does config.sh call exit, or fail to source?)${ERR:+ stderr: ${ERR:0:300}}"
}

expect_status() { # CODE
  [[ -z $STATUS || $STATUS == "$1" ]] || problem "load_config should return $1, returned $STATUS${ERR:+ (stderr: ${ERR:0:300})}"
}

# expect_config KEY VALUE KEY VALUE ...: CONFIG holds exactly these entries.
expect_config() {
  local -A want=()
  local key
  local -a order=()
  while (( $# )); do
    want[$1]=$2
    order+=("$1")
    shift 2
  done
  for key in "${order[@]}"; do
    if [[ -z ${GOT[$key]+set} ]]; then
      problem "CONFIG[$key] is missing (expected '${want[$key]}')"
    elif [[ ${GOT[$key]} != "${want[$key]}" ]]; then
      problem "CONFIG[$key] should be '${want[$key]}' but is '${GOT[$key]:0:80}'"
    fi
  done
  local -a extra=()
  mapfile -t extra < <(printf '%s\n' "${!GOT[@]}" | sort)
  for key in "${extra[@]}"; do
    [[ -z $key || -n ${want[$key]+set} ]] || problem "CONFIG has an unexpected key '${key:0:80}' (value '${GOT[$key]:0:80}')"
  done
}

# -- checks -------------------------------------------------------------------

EXAMPLE='# service settings
name = billing
port=8080   # admin port

[db]
host = db.internal
password = "s3cr#t  "
'

check_example() {
  fixture "$EXAMPLE"
  load "$FIXTURE"
  expect_status 0
  expect_config name billing port 8080 db.host db.internal db.password 's3cr#t  '
}

check_basic_keys() {
  fixture $'alpha=1\nbeta = two  words\n gamma\t=\ttabbed\t\ndelta =\nEPS_1.x-y = ok\n'
  load "$FIXTURE"
  expect_status 0
  expect_config alpha 1 beta 'two  words' gamma tabbed delta '' EPS_1.x-y ok
}

check_sections() {
  fixture $'top = 1\n[server]\nhost = a\n[ client ]\nhost = b\n[server]\nport = 80\n[a.b-c_1]\nk = v\n'
  load "$FIXTURE"
  expect_status 0
  expect_config top 1 server.host a client.host b server.port 80 a.b-c_1.k v
}

check_comments_and_blank_lines() {
  fixture $'# comment = no\n; also = no\n   # indented = no\n\t; tab = no\n\nkey = value\n    \n\t\nother = x\n'
  load "$FIXTURE"
  expect_status 0
  expect_config key value other x
}

check_inline_comments() {
  fixture $'port = 8080 # admin port\nurl = http://example.com/#anchor\ncolor = #ff0000\nhash=#tag\ntabbed = value\t# tab comment\nmulti = a # b # c\nsemi = a ; b\n'
  load "$FIXTURE"
  expect_status 0
  expect_config port 8080 url 'http://example.com/#anchor' color '' hash '#tag' tabbed value multi a semi 'a ; b'
}

check_quoted_values() {
  fixture $'padded = "  two spaces  "\nhashed = "a # not a comment"\ncommented = "x"   # comment\nempty = ""\nequals = "k=v"\nsingle = \'single quotes stay\'\n'
  load "$FIXTURE"
  expect_status 0
  expect_config padded '  two spaces  ' hashed 'a # not a comment' commented x empty '' equals 'k=v' single "'single quotes stay'"
}

check_values_with_equals() {
  fixture $'dsn = host=db;port=5432\nkey==x\nexpr = a == b\n'
  load "$FIXTURE"
  expect_status 0
  expect_config dsn 'host=db;port=5432' key '=x' expr 'a == b'
}

check_later_assignment_wins() {
  fixture $'a = 1\na = 2\n[s]\na = 3\n[s]\na = 4\n'
  load "$FIXTURE"
  expect_status 0
  expect_config a 2 s.a 4
}

check_no_expansion_or_evaluation() {
  local canary=$WORK/canary
  fixture "cmd = \$(touch $canary)
tick = \`touch $canary\`
home = \$HOME/dir
glob = *
tilde = ~/x
path = C:\\new\\table
brace = {a,b}
var = \${PATH}
semi = 1; touch $canary
"
  load "$FIXTURE"
  expect_status 0
  [[ -e $canary ]] && problem "a value was executed as a command: values must be stored literally (no eval, no source)"
  expect_config cmd "\$(touch $canary)" tick "\`touch $canary\`" home '$HOME/dir' glob '*' tilde '~/x' \
    path 'C:\new\table' brace '{a,b}' var '${PATH}' semi "1; touch $canary"
}

check_crlf_and_last_line_without_newline() {
  fixture $'a = 1\r\n[s]\r\nb = "q"\r\nlast = end'
  load "$FIXTURE"
  expect_status 0
  expect_config a 1 s.b q s.last end
}

check_invalid_lines_reported() {
  fixture $'good = 1\nthis line has no equals sign\n= no key\n1key = starts with a digit\nbad key = space in key\n[unclosed\n[]\n[sec tion]\nquoted = "unterminated\ntrailing = "a" text after\nfine = 2\n'
  load "$FIXTURE"
  expect_status 1
  expect_config good 1 fine 2
  local want="" n
  for n in 2 3 4 5 6 7 8 9 10; do want+="$FIXTURE:$n: invalid line"$'\n'; done
  local got
  got=$(cat "$WORK/stderr")
  [[ $got == "${want%$'\n'}" ]] || problem "standard error should be exactly the lines 'FILE:N: invalid line' for N = 2..10; got: ${got//$'\n'/ | }"
}

check_missing_file() {
  local missing=$WORK/no-such-file.conf
  fixture $'a = 1\n'
  local output
  output=$(run_in_bash "$STD_PATH" '
load_config "$1"
load_config "$2"
printf "status=%s count=%s\n" "$?" "${#CONFIG[@]}"' "$FIXTURE" "$missing")
  ERR=$(head -c 300 "$WORK/stderr")
  [[ $output == "status=2 count=0" ]] || problem "after loading a file and then a missing one, expected 'status=2 count=0' (status 2, CONFIG emptied), got '${output:0:200}'"
  [[ -n $ERR ]] || problem "a missing file should be reported on standard error"
}

check_reload_resets_config() {
  local first second output
  fixture $'a = 1\nb = 2\n'
  first=$FIXTURE
  fixture $'b = 3\n'
  second=$FIXTURE
  output=$(run_in_bash "$STD_PATH" '
load_config "$1"
load_config "$2"
for key in "${!CONFIG[@]}"; do printf "%s=%s;" "$key" "${CONFIG[$key]}"; done' "$first" "$second")
  [[ $output == "b=3;" ]] || problem "after loading a second file CONFIG should hold only its keys (b=3;), got '${output:0:200}'"
}

check_config_get() {
  fixture $'name = billing\nempty =\n[db]\nhost = db.internal\n'
  local output want
  output=$(run_in_bash "$STD_PATH" '
load_config "$1"
show() { local out; out=$(config_get "$@"; printf "status=%s" "$?"); printf "[%s] " "${out//$'"'"'\n'"'"'/\\n}"; }
show name; show db.host; show empty; show missing fallback; show missing ""; show name fallback; show missing' "$FIXTURE")
  want='[billing\nstatus=0] [db.internal\nstatus=0] [\nstatus=0] [fallback\nstatus=0] [\nstatus=0] [billing\nstatus=0] [status=1] '
  [[ $output == "$want" ]] || problem "config_get results (output, then status) for: name, db.host, empty, missing fallback, missing \"\", name fallback, missing
 expected: $want
 got:      ${output:0:400}"
}

check_sourcing_has_no_side_effects() {
  local output
  output=$(/usr/bin/env -i PATH="$STD_PATH" HOME=/tmp LC_ALL=C.UTF-8 /usr/bin/timeout -s KILL 5 /bin/bash --noprofile --norc -c '
before_options=$(set +o; shopt -p)
before_ifs=$IFS
source "$1" > "$2" 2>&1
printf "sourced=%s\n" "$?"
[[ $(set +o; shopt -p) == "$before_options" ]] || echo "options changed"
[[ $IFS == "$before_ifs" ]] || echo "IFS changed"
declare -F load_config > /dev/null || echo "load_config is not defined"
declare -F config_get > /dev/null || echo "config_get is not defined"
echo end' check "$LIBRARY" "$WORK/source-output" 2>&1)
  [[ $output == *end ]] || problem "sourcing config.sh stopped the shell (does it call exit?)"
  [[ $output == *"sourced=0"* ]] || problem "sourcing config.sh should succeed (status 0): ${output:0:200}"
  [[ $output == *"options changed"* ]] && problem "sourcing config.sh changed the caller's shell options (set -e/-u/-o pipefail or shopt at the top level?)"
  [[ $output == *"IFS changed"* ]] && problem "sourcing config.sh changed the caller's IFS"
  [[ $output == *"is not defined"* ]] && problem "${output//$'\n'/ }"
  [[ -s $WORK/source-output ]] && problem "sourcing config.sh printed something: $(head -c 200 "$WORK/source-output")"
}

check_pure_bash() {
  fixture "$EXAMPLE"$'[extra]\nurl = http://example.com/#anchor # home\nquoted = "  a # b  "  # c\r\nlast = end\n'
  load "$FIXTURE" "$NO_PATH"
  [[ -n $ERR ]] && problem "with an empty PATH (builtins only) standard error was: ${ERR:0:300}"
  expect_status 0
  expect_config name billing port 8080 db.host db.internal db.password 's3cr#t  ' \
    extra.url 'http://example.com/#anchor' extra.quoted '  a # b  ' extra.last end
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
    example basic-keys sections comments-and-blank-lines inline-comments quoted-values values-with-equals
    later-assignment-wins no-expansion-or-evaluation crlf-and-last-line-without-newline invalid-lines-reported
    missing-file reload-resets-config config-get sourcing-has-no-side-effects pure-bash
  )

  for name in "${CHECKS[@]}"; do
    PROBLEMS=""
    if [[ ! -f $LIBRARY ]]; then
      problem "config.sh is missing from the submission"
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
