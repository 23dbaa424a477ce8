#!/usr/bin/env bash
# Install Debian's chromium for the leaderboard's browser test (tests/test_leaderboard_browser.py).
# The test drives it with Playwright (a Python dev dependency) pointed at /usr/bin/chromium, so no browser
# build is downloaded. Run as root (CI does); a no-op when chromium is already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null | head -n 1)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "installed $(chromium --version 2>/dev/null | head -n 1)"
