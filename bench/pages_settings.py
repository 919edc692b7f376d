"""Settings of the page benchmark's server: the embedded default's (DEBUG off, as in
production; production adds only transport security), with the benchmark's URLs."""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "bench.pages_site"
