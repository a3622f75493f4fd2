# shellcheck shell=bash
# A pure-bash loader for key=value configuration files. See the statement.
# Source it (`source config.sh`): it must only define functions.

# load_config FILE: fill the global associative array CONFIG from FILE.
load_config() {
  local file=$1 line
  declare -gA CONFIG=()
  # TODO: comments, sections, trimming, quotes, inline comments, invalid lines, status codes.
  while read line; do
    CONFIG[${line%%=*}]=${line#*=}
  done < "$file"
}

# config_get KEY [DEFAULT]: print the value of KEY, else DEFAULT; status 1 if neither exists.
config_get() {
  # TODO
  return 1
}
