# Sourced by the Wine checks (test-windows.sh, installer-check.sh): where wine64 is, and
# `check NAME COMMAND...`, which runs the command, prints "ok" or "FAIL" with the name and
# counts into $ran and $passed.
wine64=$(command -v wine64 || echo /usr/lib/wine/wine64)
ran=0 passed=0
check() {
  local name=$1
  shift
  ran=$((ran + 1))
  if "$@"; then
    passed=$((passed + 1))
    echo "ok    $name"
  else
    echo "FAIL  $name"
  fi
}
