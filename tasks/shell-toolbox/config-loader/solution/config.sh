# shellcheck shell=bash
# A pure-bash loader for key=value configuration files. Reference solution.
# Source it: it only defines functions and changes no shell option.

# load_config FILE: fill the global associative array CONFIG from FILE.
# Returns 0, 1 if some lines were invalid (reported on stderr), 2 if FILE is unreadable.
load_config() {
  local file=$1 line key value section="" number=0 status=0
  local key_re='^[A-Za-z_][A-Za-z0-9_.-]*$' section_re='^\[[[:blank:]]*([A-Za-z0-9_.-]+)[[:blank:]]*\]$'
  local quoted_re='^"([^"]*)"[[:blank:]]*(#.*)?$'
  unset CONFIG
  declare -gA CONFIG=()
  if [[ ! -f $file || ! -r $file ]]; then
    printf '%s: cannot read the file\n' "$file" >&2
    return 2
  fi
  while IFS= read -r line || [[ -n $line ]]; do
    number=$((number + 1))
    line=${line%$'\r'}
    line=${line#"${line%%[![:blank:]]*}"}
    line=${line%"${line##*[![:blank:]]}"}
    [[ -z $line || $line == '#'* || $line == ';'* ]] && continue
    if [[ $line == '['* ]]; then
      if [[ $line =~ $section_re ]]; then
        section=${BASH_REMATCH[1]}
      else
        printf '%s:%d: invalid line\n' "$file" "$number" >&2
        status=1
      fi
      continue
    fi
    if [[ $line != *=* ]]; then
      printf '%s:%d: invalid line\n' "$file" "$number" >&2
      status=1
      continue
    fi
    key=${line%%=*}
    key=${key%"${key##*[![:blank:]]}"}
    if ! [[ $key =~ $key_re ]]; then
      printf '%s:%d: invalid line\n' "$file" "$number" >&2
      status=1
      continue
    fi
    value=${line#*=}
    if [[ ${value#"${value%%[![:blank:]]*}"} == '"'* ]]; then
      value=${value#"${value%%[![:blank:]]*}"}
      if ! [[ $value =~ $quoted_re ]]; then
        printf '%s:%d: invalid line\n' "$file" "$number" >&2
        status=1
        continue
      fi
      value=${BASH_REMATCH[1]}
    else
      value=${value%%[[:blank:]]#*}
      value=${value#"${value%%[![:blank:]]*}"}
      value=${value%"${value##*[![:blank:]]}"}
    fi
    CONFIG[${section:+$section.}$key]=$value
  done < "$file"
  return "$status"
}

# config_get KEY [DEFAULT]: print the value of KEY, else DEFAULT; status 1 if neither exists.
config_get() {
  if [[ -n $1 && -n ${CONFIG[$1]+set} ]]; then
    printf '%s\n' "${CONFIG[$1]}"
  elif (( $# >= 2 )); then
    printf '%s\n' "$2"
  else
    return 1
  fi
}
