"""Copy the built browser files of the npm packages into app/static/vendor (not committed).

Part of the build step (scripts/build.py, which also runs npm ci); this alone only copies.
"""

from __future__ import annotations

from build import copy_assets

if __name__ == "__main__":
    copy_assets()
