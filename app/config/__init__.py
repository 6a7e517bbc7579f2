"""One Settings object, resolved once: command line > CELERY_SCOPE_* environment >
FLOWER_* environment > config file > defaults.

Each setting is declared once, as a field of Settings (settings.py) with its type, default,
help text and the commands it applies to; the CLI, the environment and config-file readers
are built from those fields (OPTIONS). flower.py says which setting each of Flower's options
sets; sources.py reads and merges them.
"""
from .flower import FLOWER_OPTIONS, Layer, flower_values
from .settings import (
    COLLECT,
    DEFAULT_RUNTIME_BUCKETS,
    OPTIONS,
    OPTIONS_BY_NAME,
    STORE,
    WEB,
    Option,
    Settings,
)
from .sources import (
    CONFIG_ENV,
    ENV_PREFIX,
    FLOWER_PREFIX,
    cluster_key,
    default_cache_dir,
    default_store,
    resolve,
)
from .values import ConfigError, parse_bool

__all__ = ["COLLECT", "CONFIG_ENV", "DEFAULT_RUNTIME_BUCKETS", "ENV_PREFIX", "FLOWER_OPTIONS",
           "FLOWER_PREFIX", "OPTIONS", "OPTIONS_BY_NAME", "STORE", "WEB", "ConfigError", "Layer",
           "Option", "Settings", "cluster_key", "default_cache_dir", "default_store",
           "flower_values", "parse_bool", "resolve"]
