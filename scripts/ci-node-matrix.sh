#!/usr/bin/env bash
# Runs the test suite (`npm test`) on other Node.js major versions than the machine's, for CI
# (.ci/run). Usage, after `npm ci`: bash scripts/ci-node-matrix.sh [MAJOR...]   (default: 22 24)
#
# For each MAJOR, in turn:
#   1. install the npm package node-<os>-<arch>@MAJOR (a real Node binary with its headers)
#      into a temporary folder: the machine reaches no other download of Node;
#   2. rebuild better-sqlite3 from source for that Node, with it first on PATH:
#      --build-from-source keeps prebuild-install from fetching a prebuilt binary and
#      --nodedir keeps node-gyp from downloading headers, so nothing but the npm registry
#      (step 1) is needed;
#   3. check that the addon loads in that Node, then run `npm test` with it first on PATH and
#      check that the test run printed that Node's version (scripts/test.mjs prints it).
# The project's own build of better-sqlite3 (for the machine's Node) is put aside first and
# put back at the end, whatever happens. Every version runs even when one fails; the summary
# gives each step's time, and the exit status is 1 if any version failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)

addon=node_modules/better-sqlite3
saved=$addon/build.ci-saved
[ -d "$addon" ] || {
  echo "ci-node-matrix: $addon is missing: run npm ci first" >&2
  exit 1
}
# A run killed before it could restore leaves the machine's build aside: take it back first.
if [ -d "$saved" ]; then
  rm -rf "$addon/build"
  mv "$saved" "$addon/build"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/genlog-ci-node.XXXXXX")
restore() {
  rm -rf "$addon/build"
  if [ -d "$saved" ]; then mv "$saved" "$addon/build"; fi
  rm -rf "$work"
}
trap restore EXIT
trap 'exit 130' INT TERM
if [ -d "$addon/build" ]; then mv "$addon/build" "$saved"; fi

platform=$(node -p 'process.platform + "-" + process.arch')
export JOBS=max # node-gyp: compile on every core
summary=()
failed=0

# step LABEL CMD...: runs CMD, prints its elapsed seconds; sets $secs, returns CMD's status.
step() {
  local label=$1 start=$SECONDS rc=0
  shift
  echo "--- $label"
  "$@" || rc=$?
  secs=$((SECONDS - start))
  if [ $rc -eq 0 ]; then echo "--- $label: ok, ${secs} s"; else echo "--- $label: FAILED (exit $rc), ${secs} s"; fi
  return $rc
}

install_node() { # MAJOR DIR
  npm install --prefix "$2" --no-save --no-package-lock --no-audit --no-fund \
    "node-$platform@$1" >"$2.install.log" 2>&1 || {
    tail -n 30 "$2.install.log"
    return 1
  }
}

rebuild_addon() { # NODEDIR LOG
  npm rebuild better-sqlite3 --build-from-source --nodedir="$1" --foreground-scripts \
    >"$2" 2>&1
  local rc=$?
  # The lines that show what was built against what; the whole log only on failure.
  grep -E '^gyp info using|^gyp (info|ERR!) ok|^gyp ERR!' "$2" | head -n 20
  if [ "$rc" -ne 0 ]; then tail -n 60 "$2"; fi
  return "$rc"
}

check_addon() { # VERSION
  node -e '
    const Database = require("better-sqlite3");
    const db = new Database(":memory:");
    const { v } = db.prepare("SELECT sqlite_version() AS v").get();
    db.close();
    if (process.versions.node !== process.argv[1]) throw new Error(`ran Node ${process.versions.node}, expected ${process.argv[1]}`);
    console.log(`better-sqlite3 loads in Node ${process.versions.node} (ABI ${process.versions.modules}), SQLite ${v}`);
  ' "$1"
}

run_suite() { # VERSION LOG
  npm test 2>&1 | tee "$2"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || return "$rc"
  grep -q "^# genlog tests: node v$1 " "$2" || {
    echo "ci-node-matrix: the test run did not report Node v$1" >&2
    return 1
  }
}

base_path=$PATH
for major in "${majors[@]}"; do
  echo
  echo "=== Node $major ==="
  dir=$work/node-$major
  t_install=- t_build=- t_test=- result=FAILED version=$major
  step "install node-$platform@$major" install_node "$major" "$dir"
  rc=$?
  t_install=$secs
  if [ $rc -eq 0 ]; then
    pkg=$dir/node_modules/node-$platform
    version=$("$pkg/bin/node" -p process.versions.node)
    echo "Node $version at $pkg/bin/node, headers in $pkg/include/node"
    export PATH="$pkg/bin:$base_path"
    step "rebuild better-sqlite3 for Node $version" rebuild_addon "$pkg" "$dir.build.log"
    rc=$?
    t_build=$secs
    if [ $rc -eq 0 ]; then
      step "load better-sqlite3 in Node $version" check_addon "$version"
      rc=$?
    fi
    if [ $rc -eq 0 ]; then
      step "npm test on Node $version" run_suite "$version" "$dir.test.log"
      rc=$?
      t_test=$secs
    fi
    export PATH=$base_path
    [ $rc -eq 0 ] && result=ok
  fi
  [ "$result" = ok ] || failed=1
  summary+=("$(printf '%-10s %9s %9s %9s   %s' "$version" "$t_install" "$t_build" "$t_test" "$result")")
  # The next version starts from no build; the machine's comes back at the end.
  rm -rf "$addon/build" "$dir"
done

echo
echo "=== Node versions: seconds per step ==="
printf '%-10s %9s %9s %9s   %s\n' node install build test result
printf '%s\n' "${summary[@]}"
exit $failed
