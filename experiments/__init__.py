"""Entry points (python -m experiments.<name>). Importing nnscratch.config.compose registers the resolvers
their configs use (${nnscratch.or:...}, ${nnscratch.groups:...}); pin_paths makes the data folders
given relative to where the command was typed absolute, for every process it starts."""

import nnscratch.config.compose  # noqa: F401
from nnscratch.data import pin_paths

pin_paths()
