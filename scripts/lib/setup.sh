# Shared setup for scripts/run, scripts/test and scripts/bench. Sourced, not executed.
# Idempotent: a second run only checks stamps and starts in seconds.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NODE_PACKAGE="node@22.23.3"
TOOLS="$ROOT/.tools"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

setup_python() {
    # $1: the requirements file to install (requirements.txt or requirements-dev.txt)
    local requirements="$1" python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
            || { echo "Python 3.11 or newer is required (found $("$python" --version 2>&1))." >&2; exit 1; }
        say "Creating .venv"
        "$python" -m venv .venv
    fi
    local stamp=".venv/.installed-$(basename "$requirements")"
    local want
    want="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        # Hash-locked (scripts/lock compiles requirements*.in): pip refuses any package, version or
        # file that is not in the lock, so a fresh clone installs exactly what was reviewed.
        say "Installing $requirements (hash-checked)"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
            --only-binary=:all: -r "$requirements"
        echo "$want" > "$stamp"
    fi
    export PATH="$ROOT/.venv/bin:$PATH"
    export VIRTUAL_ENV="$ROOT/.venv"
}

node_is_new_enough() {
    command -v node >/dev/null 2>&1 && node -e '
        const [major, minor] = process.versions.node.split(".").map(Number);
        process.exit(major > 22 || (major === 22 && minor >= 22) ? 0 : 1);' 2>/dev/null
}

setup_node() {
    # Reflex 0.10.1 needs Node >= 22.22. Use the system's if new enough, else npm's node@22 package.
    if [ -x "$TOOLS/node/node_modules/node/bin/node" ]; then
        export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
    fi
    if ! node_is_new_enough; then
        command -v npm >/dev/null 2>&1 || { echo "npm is required to provide Node 22." >&2; exit 1; }
        say "Installing $NODE_PACKAGE into .tools/node"
        mkdir -p "$TOOLS/node"
        npm install --prefix "$TOOLS/node" --no-save --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >&2
        export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
        node_is_new_enough || { echo "Could not provide Node >= 22.22." >&2; exit 1; }
    fi
}

setup_reflex_environment() {
    export REFLEX_USE_NPM=1                 # never download bun
    export REFLEX_TELEMETRY_ENABLED=false   # no outbound requests
    export REFLEX_CHECK_LATEST_VERSION=false
    export PYTHONUNBUFFERED=1
}

migrate() {
    say "Applying database migrations"
    reflex db migrate
}
