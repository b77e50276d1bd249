"""Session-wide test settings."""
import os
import tempfile

# the CLI caches call analyses in the user's cache folder by default: tests (and the
# CLI subprocesses they start) use a throwaway one instead
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ivrkit-test-cache-")
