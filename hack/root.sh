# Sourced by the scripts that create network namespaces: run the calling script as root.
# As root it does nothing; otherwise it re-runs the script through sudo, keeping PATH so that
# cargo, go and the tools under the user's home are still found.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo env "PATH=$PATH" "$0" "$@"
  fi
  echo "$0 creates network namespaces: run it as root (sudo is not installed)" >&2
  exit 2
fi
